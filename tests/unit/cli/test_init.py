"""``hearth init``: a valid, commented hearth.yaml from a few answers, and what to run next."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from hearth.cli import main
from hearth.config import load_config
from hearth.init import InitAnswers

ROOT = Path(__file__).resolve().parents[3]


def test_init_writes_a_valid_configuration_and_the_next_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HEARTH_CLI", raising=False)  # an installed hearth: on the PATH
    output = tmp_path / "hearth.yaml"
    result = CliRunner().invoke(
        main,
        [
            "init",
            "--host",
            "192.168.1.20",
            "--repo-url",
            "https://github.com/alice/home-config.git",
            "--output",
            str(output),
        ],
    )
    assert result.exit_code == 0, result.output
    config = load_config(output)
    target = config.targets[0]
    assert (target.name, target.host, target.remote_path) == ("ha", "192.168.1.20", "/config")
    assert target.repo == config.repositories[0].name == "alice/home-config"
    assert config.repositories[0].provider == "github"
    assert target.ha_url == "http://192.168.1.20:8123"
    assert "ssh-keyscan -p 22 -t ed25519 192.168.1.20" in result.output
    assert "hearth secret set ha-ssh-key < ~/.ssh/id_ed25519" in result.output
    assert "hearth secret set ha-token" in result.output
    assert "hearth secret set ha-webhook" in result.output


def test_the_next_commands_name_scripts_hearth_when_run_through_it(tmp_path: Path) -> None:
    """A fresh clone has no `hearth` on the PATH: what `scripts/hearth init` says to run next
    must run as printed, so it names the script."""
    env = {k: v for k, v in os.environ.items() if k != "HEARTH_CLI"}
    ran = subprocess.run(
        [ROOT / "scripts" / "hearth", "init", "--host", "ha.lan", "--repo-url", "git@nas:ha.git"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    script = ROOT / "scripts" / "hearth"
    assert f"  {script} secret set ha-ssh-key < ~/.ssh/id_ed25519" in ran.stdout
    assert f"Start Hearth: {script} up" in ran.stdout
    assert (tmp_path / "hearth.yaml").is_file()


def test_init_asks_for_what_is_missing_and_never_overwrites(tmp_path: Path) -> None:
    output = tmp_path / "hearth.yaml"
    asked = CliRunner().invoke(
        main, ["init", "--output", str(output)], input="ha.lan\nssh://git@nas/srv/ha.git\n"
    )
    assert asked.exit_code == 0, asked.output
    config = load_config(output)
    assert config.targets[0].host == "ha.lan"
    assert config.repositories[0].provider == "git"
    assert "webhook" not in asked.output
    again = CliRunner().invoke(
        main, ["init", "--host", "x", "--repo-url", "y", "--output", str(output)]
    )
    assert again.exit_code == 2
    assert "exists; edit it, or pass --force" in again.output


def test_repository_names_come_from_every_url_form() -> None:
    for url, name in [
        ("https://github.com/alice/home-config.git", "alice/home-config"),
        ("git@github.com:alice/home-config.git", "alice/home-config"),
        ("ssh://git@nas:2222/srv/git/ha", "git/ha"),
        ("/srv/ha.git", "srv/ha"),
    ]:
        assert InitAnswers(host="h", repo_url=url).repo_name == name


def test_init_refuses_a_token_in_the_repository_url_without_writing_or_echoing_it(
    tmp_path: Path,
) -> None:
    output = tmp_path / "hearth.yaml"
    url = "https://alice:ghp_CANARY@github.com/alice/home-config.git"
    refused = CliRunner().invoke(
        main, ["init", "--host", "ha.lan", "--repo-url", url, "--output", str(output)]
    )
    assert refused.exit_code != 0
    assert "url carries a user name or password" in refused.output
    assert "token_secret" in refused.output and "CANARY" not in refused.output
    assert not output.exists()
