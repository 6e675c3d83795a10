"""hearth.yaml errors point at the line and say what to change."""

from __future__ import annotations

from pathlib import Path

import pytest

from hearth.config import ConfigError, load_config

GOOD = """\
repositories:
  - name: alice/home-config
    url: https://github.com/alice/home-config.git
    provider: github
    webhook_secret: home-config-webhook
    poll_interval_s: 60
notifications:
  default_urls: [ops-discord]
  routes:
    - name: garage
      events: ["Device*"]
      devices: ["shelly-garage-*"]
      urls: [garage-telegram]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hearth.yaml"
    path.write_text(text)
    return path


def test_a_good_file_loads(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    assert config.repositories[0].poll_interval_s == 60
    assert config.notifications.routes[0].devices == ("shelly-garage-*",)


def test_an_empty_file_is_an_empty_configuration(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "")).repositories == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tagets: []\n", ":1: unknown key 'tagets' (did you mean 'targets'?)"),
        (
            GOOD.replace("    provider: github\n", "    provder: github\n"),
            ":4: unknown key 'provder' (did you mean 'provider'?)",
        ),
        (
            GOOD.replace("  default_urls:", "  defaults_urls:"),
            ":8: unknown key 'defaults_urls' (did you mean 'default_urls'?)",
        ),
        (
            GOOD.replace("poll_interval_s: 60", "poll_interval_s: 5"),
            ":6: repositories.0.poll_interval_s: Input should be greater than or equal to 10",
        ),
        (
            GOOD.replace("provider: github", "provider: gitlab"),
            ":4: repositories.0.provider: Input should be 'github' or 'git'",
        ),
        ("repositories: [\n", ":2: invalid YAML"),
        ("- just\n- a list\n", ":1: the file must be a mapping of sections"),
    ],
)
def test_errors_say_where_and_what(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, text))
    assert str(error.value).startswith(str(tmp_path / "hearth.yaml"))
    assert message in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("section", ["agents"])
def test_agents_are_refused_until_they_are_supported(tmp_path: Path, section: str) -> None:
    text = GOOD + f"{section}:\n  - name: shelly-garage-1\n"
    with pytest.raises(ConfigError) as refused:
        load_config(write(tmp_path, text))
    assert str(refused.value) == (
        f"{tmp_path / 'hearth.yaml'}:15: {section}: Value error, {section} are not supported "
        f"by this version of Hearth, so nothing in this section would be applied; remove the "
        f"{section}: section"
    )
    # An empty section is as good as none.
    assert load_config(write(tmp_path, GOOD + f"{section}:\n")).repositories
    assert load_config(write(tmp_path, GOOD + f"{section}: []\n")).repositories


def test_devices_are_declared_by_mac_or_device_id(tmp_path: Path) -> None:
    text = GOOD + (
        "devices:\n"
        "  - name: porch\n"
        "    mac: A8:03:2A:B1:23:45\n"
        "    password_secret: porch-password\n"
        "    groups: [outside]\n"
        "  - name: garage\n"
        "    device_id: shellyplus1pm-a8032ab12346\n"
        "    host: 10.0.0.7\n"
    )
    config = load_config(write(tmp_path, text))
    assert [(d.name, d.mac, d.device_id, d.host) for d in config.devices] == [
        ("porch", "A8:03:2A:B1:23:45", None, None),
        ("garage", None, "shellyplus1pm-a8032ab12346", "10.0.0.7"),
    ]
    assert config.devices[0].groups == ("outside",)
    with pytest.raises(ConfigError, match="device nameless: give its mac or its device_id"):
        load_config(write(tmp_path, GOOD + "devices:\n  - name: nameless\n"))
    assert load_config(write(tmp_path, GOOD + "devices:\n")).devices == []


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "nope.yaml")


def test_a_token_in_a_url_is_refused_at_its_line_without_echoing_it(tmp_path: Path) -> None:
    text = GOOD.replace(
        "https://github.com/alice/home-config.git", "https://alice:CANARY@github.com/a/b.git"
    )
    with pytest.raises(ConfigError) as refused:
        load_config(write(tmp_path, text))
    message = str(refused.value)
    assert message.startswith(f"{tmp_path / 'hearth.yaml'}:3: repository alice/home-config: url")
    assert "token_secret" in message and "CANARY" not in message


def test_an_apprise_url_in_default_urls_is_refused_at_its_line(tmp_path: Path) -> None:
    text = GOOD.replace("default_urls: [ops-discord]", "default_urls: [discord://1/CANARY]")
    with pytest.raises(ConfigError) as refused:
        load_config(write(tmp_path, text))
    assert ":8: notifications: default_urls: entry 1 is an address" in str(refused.value)
    assert "CANARY" not in str(refused.value)


def test_hearth_apply_sends_devices_to_the_device_manager(tmp_path: Path) -> None:
    from hearth.apply import apply_config

    text = GOOD + "devices:\n  - name: porch\n    mac: A8032AB12345\n"
    sent: list[tuple[str, dict[str, object]]] = []

    def request(subject: str, body: dict[str, object]) -> dict[str, object]:
        sent.append((subject, body))
        return {"ok": True, "changes": []}

    results = apply_config(load_config(write(tmp_path, text)), request, dry_run=True)
    assert [r["section"] for r in results].count("devices") == 1
    body = next(body for subject, body in sent if subject == "hearth.cmd.device.ApplyDevices")
    assert body["devices"] == [
        {
            "name": "porch",
            "mac": "A8032AB12345",
            "device_id": None,
            "host": None,
            "password_secret": None,
            "groups": [],
        }
    ]
    assert body["dry_run"] is True


def test_device_config_names_a_folder_of_a_declared_repository(tmp_path: Path) -> None:
    from hearth.apply import apply_config

    text = GOOD + "device_config:\n  repo: alice/home-config\n  path: shelly/\n"
    config = load_config(write(tmp_path, text))
    assert config.device_config is not None
    assert (config.device_config.folder, config.device_config.branch) == ("shelly", "main")
    sent: list[tuple[str, dict[str, object]]] = []

    def request(subject: str, body: dict[str, object]) -> dict[str, object]:
        sent.append((subject, body))
        return {"ok": True, "changes": []}

    apply_config(config, request, dry_run=True)
    body = next(body for subject, body in sent if subject == "hearth.cmd.device.ApplyDevices")
    assert body["device_config"] == {
        "repo": "alice/home-config",
        "path": "shelly/",
        "branch": "main",
    }
    assert body["repository"]["url"] == "https://github.com/alice/home-config.git"  # type: ignore[index]

    with pytest.raises(ConfigError, match=r"hearth.yaml:\d+: .*'bob/other' is not declared"):
        load_config(write(tmp_path, GOOD + "device_config:\n  repo: bob/other\n"))
    with pytest.raises(ConfigError, match="must be a folder inside the repo"):
        load_config(
            write(tmp_path, GOOD + "device_config:\n  repo: alice/home-config\n  path: ../x\n")
        )
    with pytest.raises(ConfigError, match="unknown key 'paht'"):
        load_config(
            write(tmp_path, GOOD + "device_config:\n  repo: alice/home-config\n  paht: x\n")
        )


def test_hearth_apply_declares_repositories_after_what_their_pushes_feed(tmp_path: Path) -> None:
    """A repository's registration sets off its first poll at once, and the deployer acts on
    a push only for the targets it holds when the push arrives: the targets (and the
    routes, and the devices) are declared first, each one's reply awaited, so the first
    push finds them. Repositories first once left the demo undeployed: its first push
    was in the stream one event before its target."""
    from hearth.apply import apply_config

    sent: list[str] = []

    def request(subject: str, body: dict[str, object]) -> dict[str, object]:
        sent.append(subject)
        return {"ok": True, "changes": []}

    results = apply_config(load_config(write(tmp_path, GOOD)), request, dry_run=False)
    assert sent == [
        "hearth.cmd.notify.ApplyRoutes",
        "hearth.cmd.target.ApplyTargets",
        "hearth.cmd.device.ApplyDevices",
        "hearth.cmd.git.ApplyRepositories",
    ]
    assert [r["section"] for r in results] == [
        "notifications",
        "targets",
        "devices",
        "repositories",
    ]


def test_hearth_apply_says_which_deployments_a_declaration_set_off() -> None:
    from hearth.apply import change_lines

    result = {
        "ok": True,
        "changes": [{"type": "TargetRegistered", "name": "ha"}],
        "deploying": [{"target": "ha", "commit": "0123456789abcdef" * 2}],
    }
    assert change_lines(result) == ["TargetRegistered ha", "deploys 0123456789ab to ha"]
    assert change_lines({"ok": True, "changes": []}) == []
