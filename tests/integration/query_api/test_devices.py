"""The fleet's endpoints over the fleet of tests/support/fleet.py: filters and cursors, one
device with its live status from the KV bucket, history, counts, exports, rollouts, and
commands forwarded to the device manager over NATS."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import nats
import pytest

from hearth_events import escape_token
from hearth_events.jetstream import DEVICE_STATUS_BUCKET
from tests.integration.query_api.conftest import Api
from tests.support.fleet import HALL, KITCHEN, PORCH

pytestmark = pytest.mark.integration


def ids(page: dict[str, Any]) -> list[str]:
    return [d["device_id"] for d in page["items"]]


def listed(api: Api, query: str) -> list[str]:
    status, page = api.call("GET", f"/api/v1/devices?{query}")
    assert status == 200, page
    return ids(page)


async def test_devices_are_filtered_and_paged(api: Api) -> None:
    assert listed(api, "") == [PORCH, HALL, KITCHEN]  # newest first
    assert listed(api, "model=SNSW-001P16EU") == [KITCHEN]
    assert listed(api, "group=lights") == [KITCHEN]
    assert listed(api, "group=plugs") == [HALL]
    assert listed(api, "site=home") == [HALL, KITCHEN]
    assert listed(api, "status=offline") == [HALL]
    assert listed(api, "status=online") == [PORCH, KITCHEN]
    assert listed(api, "status=unknown") == []
    assert listed(api, "drift=true") == [KITCHEN]
    assert listed(api, "drift=false") == [PORCH, HALL]
    assert listed(api, "update=true") == [HALL]
    assert listed(api, "adopted=false") == [PORCH]
    assert listed(api, "q=KITCH") == [KITCHEN]
    assert listed(api, "q=10.0.0.13") == [PORCH]
    assert listed(api, "q=%25") == []  # a LIKE wildcard is a plain character
    assert listed(api, "site=home&status=online") == [KITCHEN]

    seen, cursor = [], None
    while True:
        status, page = api.call(
            "GET", "/api/v1/devices?limit=1" + (f"&cursor={cursor}" if cursor else "")
        )
        seen += ids(page)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [PORCH, HALL, KITCHEN]

    status, body = api.call("GET", "/api/v1/devices?status=asleep")
    assert (status, body["error"]) == (400, "bad query")
    assert "status" in body["detail"]


async def test_counts_by_state(api: Api) -> None:
    status, counts = api.call("GET", "/api/v1/devices/counts")
    assert status == 200
    assert counts == {
        "total": 3,
        "adopted": 2,
        "online": 2,
        "offline": 1,
        "unknown": 0,
        "drifted": 1,
        "update_available": 1,
        "updating": 0,
        "by_model": {"SHSW-1": 1, "SNPL-00112EU": 1, "SNSW-001P16EU": 1},
        "by_site": {"home": 2},
    }


@pytest.fixture
async def live_kitchen(api: Api) -> AsyncIterator[dict[str, Any]]:
    """The kitchen's live status as the device manager writes it."""
    status = {"online": True, "address": "10.0.0.11", "model": "SNSW-001P16EU", "gen": 2}
    status["components"] = {"switch:0": {"output": True, "apower": 12.5}}
    nc = await nats.connect(api.nats_url)
    kv = await nc.jetstream().key_value(DEVICE_STATUS_BUCKET)
    await kv.put(escape_token(KITCHEN), json.dumps(status).encode())
    yield status
    await nc.close()


async def test_one_device_with_its_live_status_drift_and_backups(
    api: Api, live_kitchen: dict[str, Any]
) -> None:
    status, kitchen = api.call("GET", f"/api/v1/devices/{KITCHEN}")
    assert status == 200, kitchen
    assert kitchen["live"] == live_kitchen
    assert (kitchen["name"], kitchen["groups"], kitchen["status"]) == (
        "kitchen",
        ["kitchen", "lights"],
        "online",
    )
    assert kitchen["differences"] == [
        {
            "path": "switch:0.auto_off",
            "desired": True,
            "actual": False,
            "source": "groups/kitchen.toml",
        }
    ]
    assert kitchen["desired"]["switch"] == [{"id": 0, "auto_off": True}]
    assert [b["backup_id"] for b in kitchen["backups"]] == ["bk-kitchen-1"]

    # By name and by MAC (any spelling) too; the hall has no live status.
    assert api.call("GET", "/api/v1/devices/hall")[1]["device_id"] == HALL
    assert api.call("GET", "/api/v1/devices/a8:03:2a:b1:00:03")[1]["device_id"] == PORCH
    hall = api.call("GET", "/api/v1/devices/hall")[1]
    assert hall["live"] is None and hall["last_restored_backup"] == "bk-hall-1"
    status, body = api.call("GET", "/api/v1/devices/attic")
    assert (status, body["error"]) == (404, "not found")


async def test_a_devices_history_is_its_events(api: Api) -> None:
    status, page = api.call("GET", f"/api/v1/devices/{HALL}/history?limit=100")
    assert status == 200
    types = [e["type"] for e in page["items"]]
    assert types[0] == "DeviceOffline" and types[-1] == "DeviceDiscovered"
    assert "DeviceConfigApplyFailed" in types and "DeviceConfigRestored" in types
    assert all(e["key"] == HALL for e in page["items"])
    status, first = api.call("GET", f"/api/v1/devices/{HALL}/history?limit=2")
    status, rest = api.call(
        "GET", f"/api/v1/devices/{HALL}/history?limit=100&cursor={first['next_cursor']}"
    )
    assert [e["seq"] for e in first["items"] + rest["items"]] == [e["seq"] for e in page["items"]]


async def test_rollouts_show_each_devices_progress(api: Api) -> None:
    status, page = api.call("GET", "/api/v1/rollouts")
    assert status == 200
    assert [(r["rollout_id"], r["status"]) for r in page["items"]] == [
        ("ro-2", "halted"),
        ("ro-1", "completed"),
    ]
    assert page["items"][0]["progress"] == {"failed": 1, "pending": 1}
    assert api.call("GET", "/api/v1/rollouts?status=halted")[1]["items"][0]["rollout_id"] == "ro-2"
    status, ro2 = api.call("GET", "/api/v1/rollouts/ro-2")
    assert (ro2["halted_device"], ro2["reason"]) == (PORCH, "ota_error: download failed")
    assert [(d["device_id"], d["wave"], d["status"]) for d in ro2["devices"]] == [
        (PORCH, 0, "failed"),
        (HALL, 1, "pending"),
    ]
    assert ro2["devices"][0]["to_version"] == "1.14.1"  # the version, whatever form it came in
    # Discovered with the Gen1 build id 20230913-112003/v1.14.0: shown as its version.
    assert api.call("GET", f"/api/v1/devices/{PORCH}")[1]["firmware"] == "1.14.0"
    assert api.call("GET", "/api/v1/rollouts/ro-9")[0] == 404


def export(api: Api, query: str) -> tuple[str, str]:
    request = urllib.request.Request(
        f"{api.base}/api/v1/devices/export?{query}",
        headers={"Authorization": f"Bearer {api.tokens['viewer']}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.headers["Content-Type"], response.read().decode()


async def test_the_inventory_exports(api: Api) -> None:
    kind, text = export(api, "format=json")
    assert kind.startswith("application/json")
    devices = json.loads(text)["devices"]
    assert [d["device_id"] for d in devices] == [KITCHEN, HALL, PORCH]
    assert devices[0]["groups"] == ["kitchen", "lights"]

    kind, text = export(api, "format=csv&site=home")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert kind.startswith("text/csv")
    assert [(r["name"], r["status"], r["groups"]) for r in rows] == [
        ("kitchen", "online", "kitchen lights"),
        ("hall", "offline", "plugs"),
    ]
    hosts = export(api, "format=hosts")[1].splitlines()
    assert f"10.0.0.11\tkitchen\t# {KITCHEN}" in hosts
    assert f"10.0.0.13\tporch\t# {PORCH}" in hosts  # released: the name it was adopted under
    assert "dhcp-host=a8:03:2a:b1:00:02,10.0.0.12,hall" in export(api, "format=dnsmasq")[1]
    dhcpd = export(api, "format=dhcpd&model=SNSW-001P16EU")[1]
    assert (
        "host kitchen {\n  hardware ethernet a8:03:2a:b1:00:01;\n  fixed-address 10.0.0.11;"
        in dhcpd
    )
    assert "hall" not in dhcpd
    kea = json.loads(export(api, "format=kea")[1])
    assert kea["reservations"][1] == {
        "hw-address": "a8:03:2a:b1:00:02",
        "ip-address": "10.0.0.12",
        "hostname": "hall",
    }
    status, body = api.call("GET", "/api/v1/devices/export?format=xml")
    assert status == 400 and "format" in body["detail"]


async def post(api: Api, *args: Any, **kwargs: Any) -> tuple[int, Any]:
    """In a thread: the stand-in device manager answers on this test's event loop."""
    return await asyncio.to_thread(api.call, *args, **kwargs)


async def test_commands_are_forwarded_to_the_device_manager(api: Api) -> None:
    # Nothing answers yet: one clear line, not a hang.
    status, body = api.call("POST", f"/api/v1/devices/{KITCHEN}/apply", token="operator", body={})
    assert (status, body["error"]) == (503, "no responder")
    assert "hearth.cmd.device.Apply" in body["detail"]

    asked: list[tuple[str, dict[str, Any]]] = []
    nc = await nats.connect(api.nats_url)

    async def device_manager(message: Any) -> None:
        request = json.loads(message.data)
        asked.append((message.subject.rsplit(".", 1)[1], request))
        if request.get("backup_id") == "bk-missing":
            reply = {"ok": False, "error": "no backup bk-missing"}
        elif message.subject.endswith("Import"):
            reply = {"ok": False, "error": "the device is offline"}
        else:
            reply = {"ok": True, "started": True}
        await message.respond(json.dumps(reply).encode())

    await nc.subscribe("hearth.cmd.device.*", cb=device_manager)
    await nc.flush()
    try:
        status, body = await post(
            api, "POST", "/api/v1/devices/kitchen/apply", token="operator", body={}
        )
        assert (status, body) == (200, {"command": "Apply", "result": {"started": True}})
        status, body = await post(
            api, "POST", f"/api/v1/devices/{HALL}/import", token="operator", body={}
        )
        assert (status, body["error"], body["detail"]) == (409, "refused", "the device is offline")
        status, body = await post(
            api,
            "POST",
            f"/api/v1/devices/{HALL}/restore",
            token="operator",
            body={"backup_id": "bk-missing"},
        )
        assert status == 404
        await post(api, "POST", f"/api/v1/devices/{HALL}/backup", token="operator", body={})
        await post(
            api, "POST", f"/api/v1/devices/{PORCH}/adopt", token="admin", body={"name": "porch"}
        )
        status, _ = await post(
            api, "POST", "/api/v1/devices/kitchen/release", token="operator", body={}
        )
        assert status == 403  # which devices Hearth manages is the admin's to say
        await post(api, "POST", "/api/v1/devices/kitchen/release", token="admin", body={})
        await post(
            api,
            "POST",
            "/api/v1/devices/discover",
            token="operator",
            body={"cidrs": ["10.0.0.0/28"]},
        )
        status, body = await post(
            api, "POST", "/api/v1/rollouts", token="operator", body={"wave_size": 5}
        )
        assert status == 200
        status, _ = await post(
            api, "POST", "/api/v1/devices/attic/apply", token="operator", body={}
        )
        assert status == 404
    finally:
        await nc.close()
    # Every reply came back, so every request was seen.
    assert asked == [
        ("Apply", {"device_id": KITCHEN, "actor": "token:ops"}),
        ("Import", {"device_id": HALL, "actor": "token:ops"}),
        ("Restore", {"device_id": HALL, "backup_id": "bk-missing", "actor": "token:ops"}),
        ("Backup", {"device_id": HALL, "actor": "token:ops"}),
        ("Adopt", {"device_id": PORCH, "name": "porch", "actor": "token:root"}),
        ("Release", {"device_id": KITCHEN, "actor": "token:root"}),
        ("Discover", {"cidrs": ["10.0.0.0/28"], "actor": "token:ops"}),
        ("FirmwareRollout", {"wave_size": 5, "device_ids": [HALL], "actor": "token:ops"}),
    ]


async def test_the_device_page_shows_buttons_only_to_operators(api: Api) -> None:
    csrf = re.compile(r'name="csrf" value="([^"]+)"')
    jar = aiohttp.CookieJar(unsafe=True)  # the site is an IP address
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        login = {"token": api.tokens["viewer"]}
        async with http.post(api.base + "/login", data=login, allow_redirects=False) as reply:
            assert reply.status == 303
        async with http.get(f"{api.base}/devices/{KITCHEN}") as reply:
            page = await reply.text()
        assert reply.status == 200 and "switch:0.auto_off" in page
        # Where the desired value comes from, and the device's groups from Git.
        assert '<td class="opt">groups/kitchen.toml</td>' in page
        assert 'href="/devices?group=lights"' in page
        assert 'id="apply-button"' not in page and "Restore</button>" not in page
        found = csrf.search(page)
        assert found is not None
        apply = f"{api.base}/devices/{KITCHEN}/apply"
        async with http.post(apply, data={"csrf": found.group(1)}) as reply:
            assert reply.status == 403 and "needs the operator role" in await reply.text()
        async with http.post(apply, data={"csrf": "forged"}) as reply:
            assert reply.status == 403 and "Form expired" in await reply.text()
