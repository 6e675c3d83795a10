"""Which secrets hold a target's deployment."""

from __future__ import annotations

from hearth_deployer.domain.waiting import missing_secrets, secrets_needed, waiting_text
from hearth_events.catalogue import RepositorySpec, TargetSpec

HA = TargetSpec(
    name="ha",
    kind="homeassistant",
    host="ha.local",
    user="hearth",
    key_secret="ha-ssh-key",
    remote_path="/config",
    repo="home/config",
    ha_url="http://ha.local:8123",
    ha_token_secret="ha-token",
)
REPO = RepositorySpec(
    name="home/config", url="https://github.com/home/config", token_secret="gh-token"
)


def no_repository(name: str) -> RepositorySpec | None:
    return None


class Secrets:
    def __init__(self, *names: str) -> None:
        self.names = set(names)

    async def get(self, name: str) -> bytes | None:
        return b"value" if name in self.names else None


def test_a_home_assistant_target_needs_its_key_token_and_the_repository_token() -> None:
    assert list(secrets_needed(HA, {REPO.name: REPO}.get)) == ["ha-ssh-key", "ha-token", "gh-token"]
    files = HA.model_copy(update={"kind": "files", "ha_url": None})
    assert list(secrets_needed(files, no_repository)) == ["ha-ssh-key"]


async def test_only_the_missing_ones_are_named_with_what_they_are() -> None:
    missing = await missing_secrets(Secrets("ha-token"), HA, {REPO.name: REPO}.get)
    assert list(missing) == ["ha-ssh-key", "gh-token"]
    text = waiting_text(missing)
    assert text.startswith("waiting for secrets ha-ssh-key (the SSH private key), gh-token")
    assert "hearth secret set" in text
    assert await missing_secrets(Secrets("ha-ssh-key", "ha-token"), HA, no_repository) == {}
