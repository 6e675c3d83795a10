"""Hearth's Git settings are added to the user's own, never in their place."""

from __future__ import annotations

import subprocess

from hearth_servicekit.gitenv import git_environment


def test_git_never_prompts_speaks_english_and_keeps_housekeeping_in_the_foreground() -> None:
    env = git_environment({"PATH": "/usr/bin:/bin", "LANG": "de_DE.UTF-8"})
    assert env["GIT_TERMINAL_PROMPT"] == "0" and env["GIT_ASKPASS"] == "true"
    assert env["LC_ALL"] == "C" and env["PATH"] == "/usr/bin:/bin"
    config = subprocess.run(
        ["git", "config", "--list"], env=env, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert "gc.autodetach=false" in config
    assert "maintenance.autodetach=false" in config


def test_settings_the_user_passes_through_the_environment_are_kept() -> None:
    user = {
        "PATH": "/usr/bin:/bin",
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "http.proxy",
        "GIT_CONFIG_VALUE_0": "http://proxy.lan:3128",
    }
    env = git_environment(user)
    assert env["GIT_CONFIG_COUNT"] == "3"
    config = subprocess.run(
        ["git", "config", "--list"], env=env, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert "http.proxy=http://proxy.lan:3128" in config
    assert "gc.autodetach=false" in config
