"""The API's address and token as the CLI takes them: a pasted line's end is forgiven,
anything else is one line that says what to fix, never a traceback from the HTTP client."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hearth.client import ApiProblem, ApiSettings


def hearth(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HEARTH_")}
    return subprocess.run(
        [sys.executable, "-m", "hearth.cli", *args],
        env={**clean, "XDG_CONFIG_HOME": str(tmp_path), "HEARTH_DATA_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    "token",
    ["hth_first\nhth_second", "(sign in\nhth_abc", "hth_abc def", "hth_abc\x1b[0m"],
    ids=["two-lines", "grepped-too-much", "a-space", "a-control-character"],
)
def test_a_token_that_is_not_one_token_is_one_line(tmp_path: Path, token: str) -> None:
    """Regression: `hearth deployments` with a token of two lines (what a grep of
    `hearth up`'s banner gave) crashed with aiohttp's "Forbidden control character
    detected in headers" and a 30-line traceback."""
    result = hearth(tmp_path, "deployments", HEARTH_API_TOKEN=token)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "HEARTH_API_TOKEN holds more than one token" in lines[0]


def test_a_pasted_line_end_is_forgiven(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setenv("HEARTH_API_TOKEN", " hth_abc\n")
    monkeypatch.setenv("HEARTH_API_URL", "http://127.0.0.1:8080/ \n")
    settings = ApiSettings.load()
    assert (settings.token, settings.url) == ("hth_abc", "http://127.0.0.1:8080")


@pytest.mark.parametrize("url", ["localhost:8080", "127.0.0.1:8080", "ftp://nas/api", "http://"])
def test_an_address_that_is_not_one_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url: str
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setenv("HEARTH_API_TOKEN", "hth_abc")
    monkeypatch.setenv("HEARTH_API_URL", url)
    with pytest.raises(ApiProblem, match=r"HEARTH_API_URL must be the API's address, like http"):
        ApiSettings.load()


def test_the_config_file_is_named_when_its_token_is_wrong(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("HEARTH_API_TOKEN", raising=False)
    monkeypatch.setenv("HEARTH_API_URL", "http://127.0.0.1:8080")
    (tmp_path / "hearth").mkdir()
    (tmp_path / "hearth" / "cli.toml").write_text('token = "hth_a hth_b"\n')
    with pytest.raises(ApiProblem, match=r"token in .*cli\.toml holds more than one token"):
        ApiSettings.load()
