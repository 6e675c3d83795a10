"""Apprise's plugins are loaded at start, off the event loop, so no route check or first
message stalls the notifier for the second Apprise takes to import them all."""

from __future__ import annotations

import json
import subprocess
import sys

#: Run in a fresh interpreter: in this one, another test may have loaded them already.
PROGRAM = """
import asyncio, json, threading
from apprise.manager_plugins import NotificationManager
from hearth_notifier.adapters.delivery import AppriseDeliverer, check_url

manager = NotificationManager()
loaded_in = []
original = type(manager).load_modules

def spy(self, *args, **kwargs):
    if not self:  # not loaded yet: this call does the work
        loaded_in.append(threading.current_thread().name)
    return original(self, *args, **kwargs)

type(manager).load_modules = spy

async def main():
    before = bool(manager)
    await AppriseDeliverer().prepare()
    after = bool(manager)
    check_url("json://127.0.0.1:1/hook")  # what the first route check does, in the loop
    return before, after

before, after = asyncio.run(main())
print(json.dumps({"before": before, "after": after, "loaded_in": loaded_in,
                  "main": threading.main_thread().name}))
"""


def test_prepare_loads_the_plugins_in_a_worker_thread_before_any_url_is_read() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, check=True
    )
    seen = json.loads(result.stdout)
    assert seen["before"] is False and seen["after"] is True
    assert seen["loaded_in"], "the plugins were never loaded"
    assert seen["main"] not in seen["loaded_in"]  # never in the event loop's thread
