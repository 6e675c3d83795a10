"""The deployer's Home Assistant client against the simulator (and the simulator's HA-ness)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hearth_deployer.adapters.homeassistant import HomeAssistantClient, HomeAssistantError

pytestmark = pytest.mark.integration


def write(config: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (config / rel).parent.mkdir(parents=True, exist_ok=True)
        (config / rel).write_text(text)


async def test_a_valid_configuration_checks_restarts_and_runs_again(ha_sim: Any) -> None:
    write(
        ha_sim.config_dir,
        {
            "configuration.yaml": "homeassistant:\n  name: Home\nautomation: !include a.yaml\n"
            "http:\n  server_port: !secret port\n",
            "a.yaml": "[]\n",
            "secrets.yaml": "port: 8123\n",
        },
    )
    client = HomeAssistantClient(ha_sim.url, ha_sim.token)
    check = await client.check_config()
    assert (check.valid, check.errors) == (True, None)
    await client.restart()
    waited = await client.wait_running(10, after_restart=True, settle_s=2, interval_s=0.05)
    assert waited > 0
    assert ha_sim.restarts == 1


async def test_invalid_configurations_are_reported_in_has_words(ha_sim: Any) -> None:
    write(ha_sim.config_dir, {"configuration.yaml": "homeassistant:\nlightz: []\n"})
    client = HomeAssistantClient(ha_sim.url, ha_sim.token)
    check = await client.check_config()
    assert not check.valid
    assert check.errors == "Integration error: lightz - Integration 'lightz' not found."
    with pytest.raises(HomeAssistantError, match="restart failed with HTTP 500"):
        await client.restart()  # Home Assistant refuses to restart on an invalid config
    assert ha_sim.restarts == 0


async def test_a_missing_secret_or_include_is_invalid(ha_sim: Any) -> None:
    write(ha_sim.config_dir, {"configuration.yaml": "http:\n  x: !secret nope\n"})
    check = await HomeAssistantClient(ha_sim.url, ha_sim.token).check_config()
    assert (check.valid, check.errors) == (False, "Secret nope not defined")


async def test_a_bad_token_says_what_to_do(ha_sim: Any) -> None:
    client = HomeAssistantClient(ha_sim.url, "wrong")
    with pytest.raises(HomeAssistantError, match="rejected the access token"):
        await client.check_config()
    assert "wrong" not in repr(client)


async def test_an_unreachable_instance_is_named(tmp_path: Path) -> None:
    from hearth.embedded.process import free_port

    client = HomeAssistantClient(f"http://127.0.0.1:{free_port()}", "t", timeout_s=2)
    with pytest.raises(HomeAssistantError, match="is not reachable"):
        await client.check_config()
    assert await client.is_running() is False


async def test_a_config_that_breaks_start_up_leaves_it_not_running(ha_sim: Any) -> None:
    write(ha_sim.config_dir, {"configuration.yaml": "homeassistant:\n  name: broken\n"})
    ha_sim.fails_to_start = lambda config: "broken" in (config / "configuration.yaml").read_text()
    client = HomeAssistantClient(ha_sim.url, ha_sim.token)
    await client.restart()
    with pytest.raises(HomeAssistantError, match="did not report RUNNING within 2s"):
        await client.wait_running(2, after_restart=True, settle_s=1, interval_s=0.05)
    # Fixing the files and restarting brings it back.
    write(ha_sim.config_dir, {"configuration.yaml": "homeassistant:\n  name: fixed\n"})
    await client.restart()
    await client.wait_running(10, after_restart=True, settle_s=2, interval_s=0.05)


async def test_reload_calls_the_domain_service(ha_sim: Any) -> None:
    client = HomeAssistantClient(ha_sim.url, ha_sim.token)
    await client.reload("automation")
    assert ha_sim.reloads == ["automation"]
