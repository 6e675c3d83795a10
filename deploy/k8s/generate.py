"""Write Hearth's Kubernetes manifests beside this file (``uv run python deploy/k8s/generate.py``),
from the services and bus users in the code, so that they never drift from it.

``--secrets`` prints the Secrets instead, filled with fresh passwords and each service's
scope key derived from ``$HEARTH_SECRET_KEY``: ``... --secrets | kubectl apply -f -``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hearth.stack.kube import filled_secrets, render, write

if __name__ == "__main__":
    if "--secrets" in sys.argv:
        key = os.environ.get("HEARTH_SECRET_KEY")
        if not key:
            sys.exit("set HEARTH_SECRET_KEY (the installation key, see docs/deploy.md)")
        print(render(filled_secrets(key)), end="")
    else:
        write(Path(__file__).resolve().parent)
