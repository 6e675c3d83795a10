"""Webhook deliveries shaped and signed exactly as GitHub sends them."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from typing import Any

ZERO = "0" * 40


def sha(seed: str) -> str:
    return hashlib.sha1(seed.encode()).hexdigest()


def push_payload(
    repo: str = "alice/home-config",
    *,
    ref: str = "refs/heads/main",
    before: str | None = None,
    after: str | None = None,
    files: dict[str, list[str]] | None = None,
    commits: int = 1,
    sender: str = "alice",
) -> dict[str, Any]:
    before = before or sha("before")
    after = after or sha("after")
    owner, name = repo.split("/")
    changed = files or {"added": [], "modified": ["configuration.yaml"], "removed": []}
    commit_list = [
        {
            "id": after if i == commits - 1 else sha(f"c{i}"),
            "tree_id": sha(f"t{i}"),
            "distinct": True,
            "message": f"Change {i}",
            "timestamp": "2026-11-22T10:00:00+01:00",
            "url": f"https://github.com/{repo}/commit/{sha(f'c{i}')}",
            "author": {"name": "Alice", "email": "alice@example.com", "username": sender},
            "committer": {"name": "Alice", "email": "alice@example.com", "username": sender},
            **changed,
        }
        for i in range(commits)
    ]
    return {
        "ref": ref,
        "before": before,
        "after": after,
        "repository": {
            "id": 1296269,
            "node_id": "MDEwOlJlcG9zaXRvcnkxMjk2MjY5",
            "name": name,
            "full_name": repo,
            "private": True,
            "owner": {"name": owner, "login": owner, "id": 1},
            "html_url": f"https://github.com/{repo}",
            "clone_url": f"https://github.com/{repo}.git",
            "default_branch": "main",
        },
        "pusher": {"name": sender, "email": f"{sender}@example.com"},
        "sender": {"login": sender, "id": 2, "type": "User"},
        "created": before == ZERO,
        "deleted": after == ZERO,
        "forced": False,
        "base_ref": None,
        "compare": f"https://github.com/{repo}/compare/{before[:12]}...{after[:12]}",
        "commits": [] if after == ZERO else commit_list,
        "head_commit": None if after == ZERO else commit_list[-1],
    }


def workflow_run_payload(
    repo: str = "alice/home-config",
    *,
    action: str = "completed",
    conclusion: str | None = "success",
    head_sha: str | None = None,
) -> dict[str, Any]:
    return {
        "action": action,
        "workflow_run": {
            "id": 30433642,
            "name": "CI",
            "head_branch": "main",
            "head_sha": head_sha or sha("after"),
            "status": "completed" if action == "completed" else "in_progress",
            "conclusion": conclusion,
            "run_attempt": 1,
            "html_url": f"https://github.com/{repo}/actions/runs/30433642",
        },
        "repository": {"full_name": repo, "name": repo.split("/")[1]},
        "sender": {"login": "alice"},
    }


def sign(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def delivery_headers(
    event: str, body: bytes, secret: bytes | None, delivery_id: str | None = None
) -> dict[str, str]:
    headers = {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery_id or str(uuid.uuid4()),
        "X-GitHub-Hook-ID": "42",
        "User-Agent": "GitHub-Hookshot/abc1234",
        "Content-Type": "application/json",
    }
    if secret is not None:
        headers["X-Hub-Signature-256"] = sign(secret, body)
    return headers


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()
