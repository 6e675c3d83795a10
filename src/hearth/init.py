"""``hearth init``: a commented hearth.yaml for one Home Assistant host, and what to run next."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class InitAnswers:
    host: str
    repo_url: str
    name: str = "ha"
    user: str = "hearth"
    port: int = 22
    remote_path: str = "/config"
    branch: str = "main"
    subdirectory: str = ""
    ha_url: str = ""

    @property
    def provider(self) -> str:
        return "github" if urlsplit(self.repo_url).hostname == "github.com" else "git"

    @property
    def repo_name(self) -> str:
        """``owner/name`` from the URL (``git@github.com:alice/x.git`` included)."""
        path = self.repo_url.rstrip("/").removesuffix(".git")
        path = re.sub(r"^[\w.+-]+://[^/]*/", "", path)  # scheme://host/
        path = re.sub(r"^[^@/:]+@[^:]+:", "", path)  # user@host:
        parts = [p for p in path.split("/") if p]
        return "/".join(parts[-2:]) if len(parts) >= 2 else (parts[-1] if parts else "home-config")

    @property
    def secret_prefix(self) -> str:
        return re.sub(r"[^a-z0-9-]+", "-", self.name.lower()).strip("-") or "ha"

    @property
    def effective_ha_url(self) -> str:
        return self.ha_url or f"http://{self.host}:8123"


def render_config(a: InitAnswers) -> str:
    p = a.secret_prefix
    webhook = (
        "    # the name of the secret holding GitHub's webhook secret (hearth secret set)\n"
        f"    webhook_secret: {p}-webhook\n"
        if a.provider == "github"
        else ""
    )
    subdirectory = (
        f"    subdirectory: {a.subdirectory}\n"
        if a.subdirectory
        else "    # subdirectory: homeassistant   # deploy only this folder of the repository\n"
    )
    return f"""\
# hearth.yaml: what Hearth keeps your homelab equal to. Written by `hearth init`.
# `hearth up` applies it at start; `hearth apply [--dry-run]` applies later changes.

repositories:
  - name: {a.repo_name}
    url: {a.repo_url}
    # github: webhooks and commit statuses; git: any Git URL, polled
    provider: {a.provider}
{webhook}    # how often to look for new commits, in seconds (at least 10)
    poll_interval_s: 60

targets:
  - name: {a.name}
    kind: homeassistant
    host: {a.host}
    port: {a.port}
    # an SSH user that may write {a.remote_path}; the host needs SFTP (OpenSSH has it)
    user: {a.user}
    # the name of the secret holding the SSH private key (hearth secret set)
    key_secret: {p}-ssh-key
    # the host's own key, so Hearth never talks to an impostor; fill in from
    #   ssh-keyscan -p {a.port} -t ed25519 {a.host}
    # known_host_key: "ssh-ed25519 AAAA..."
    # Home Assistant's configuration folder on the host
    remote_path: {a.remote_path}
    repo: {a.repo_name}
    branch: {a.branch}
{subdirectory}    ha_url: {a.effective_ha_url}
    # the name of the secret holding a long-lived access token (your HA profile page)
    ha_token_secret: {p}-token
    # deploy every push to {a.branch}; false: only `hearth deploy {a.name}`
    auto_deploy: true
    # require_ci: true        # wait for a green GitHub Actions run first
    # health_timeout_s: 60    # how long Home Assistant may take to answer after a restart
"""


def next_steps(a: InitAnswers, path: str, hearth: str = "hearth") -> list[str]:
    p = a.secret_prefix
    steps = [
        [
            f"Pin the host key: put the 'ssh-ed25519 AAAA...' part of what "
            f"`ssh-keyscan -p {a.port} -t ed25519 {a.host}` prints into known_host_key in {path}"
        ],
        [
            f"Store the SSH key Hearth logs in with (its public half goes into "
            f"~{a.user}/.ssh/authorized_keys on {a.host}):",
            f"  {hearth} secret set {p}-ssh-key < ~/.ssh/id_ed25519",
        ],
        [
            "Store a Home Assistant long-lived access token (your profile page, Security):",
            f'  printf %s "$HA_TOKEN" | {hearth} secret set {p}-token',
        ],
    ]
    if a.provider == "github":
        steps.append(
            [
                "Store the webhook secret you give GitHub (repository Settings, Webhooks):",
                f'  printf %s "$WEBHOOK_SECRET" | {hearth} secret set {p}-webhook',
            ]
        )
    steps.append([f"Start Hearth: {hearth} up  (secrets may be set before or after it starts)"])
    return [
        f"{'  ' if j else f'{i}. '}{line}"
        for i, lines in enumerate(steps, 1)
        for j, line in enumerate(lines)
    ]
