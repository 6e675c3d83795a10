"""Which scope ``hearth secret set NAME`` stores into, inferred from hearth.yaml."""

from __future__ import annotations

import pytest

from hearth.cli.secrets import SCOPES
from hearth.config import load_config_text
from hearth.secret_scopes import chosen_scopes, infer_scopes, referencing_scopes
from hearth_events.jetstream import SECRET_SCOPES
from hearth_servicekit.secrets import SecretError

CONFIG = load_config_text(
    """
repositories:
  - name: alice/home
    url: https://github.com/alice/home.git
    provider: github
    webhook_secret: home-webhook
    token_secret: gh-token
targets:
  - name: ha
    kind: homeassistant
    host: ha.local
    user: root
    key_secret: ha-ssh
    remote_path: /config
    repo: alice/home
    ha_url: http://ha.local:8123
    ha_token_secret: ha-token
  - name: nas
    kind: files
    host: nas.local
    user: hearth
    key_secret: home-webhook
    remote_path: /srv
    repo: alice/home
notifications:
  default_urls: [pushover]
  routes:
    - name: failures
      events: [DeploymentFailed]
      urls: [ntfy]
""",
    "hearth.yaml",
)


@pytest.mark.parametrize(
    ("name", "scopes"),
    [
        ("ha-ssh", ("deployer",)),
        ("ha-token", ("deployer",)),
        ("gh-token", ("deployer", "webhook-gw")),  # CI status and archives; polling
        ("pushover", ("notifier",)),
        ("ntfy", ("notifier",)),
    ],
)
def test_the_scope_comes_from_where_the_name_is_referenced(
    name: str, scopes: tuple[str, ...]
) -> None:
    assert infer_scopes(CONFIG, name, "hearth.yaml") == scopes


def test_a_name_referenced_from_two_scopes_is_refused_in_one_line() -> None:
    with pytest.raises(SecretError) as refused:
        infer_scopes(CONFIG, "home-webhook", "hearth.yaml")
    message = str(refused.value)
    assert "\n" not in message
    assert "webhook_secret (webhook-gw) and key_secret (deployer)" in message
    assert message.endswith("say --for webhook-gw|deployer")


def test_a_name_referenced_nowhere_is_refused_in_one_line() -> None:
    with pytest.raises(SecretError, match=r"not referenced in hearth.yaml; say --for webhook-gw\|"):
        infer_scopes(CONFIG, "wifi", "hearth.yaml")
    with pytest.raises(SecretError, match="not referenced"):
        infer_scopes(None, "wifi", "any hearth.yaml")


def test_for_wins_and_is_checked() -> None:
    assert chosen_scopes("provisioner", CONFIG, "home-webhook", "hearth.yaml") == ("provisioner",)
    with pytest.raises(SecretError, match="unknown secret scope"):
        chosen_scopes("query-api", CONFIG, "x", "hearth.yaml")


def test_migration_sees_every_scope_that_reads_a_name() -> None:
    assert referencing_scopes(CONFIG, "home-webhook") == {"webhook-gw", "deployer"}
    assert referencing_scopes(CONFIG, "stray") == set()
    assert referencing_scopes(None, "ha-ssh") == set()


def test_the_cli_offers_exactly_the_scopes() -> None:
    assert SCOPES == SECRET_SCOPES
