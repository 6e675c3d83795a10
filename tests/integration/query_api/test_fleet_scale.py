"""A fleet of 5,000 devices: every page of the API and the dashboard holds one page of them
(not the fleet), the cursors walk all of them once, filters and counts agree, and the
export holds them all. Times are printed for the record, never asserted."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from hearth.embedded.nats import EmbeddedNats
from hearth_events import Envelope, EventData, new_event
from hearth_events.catalogue import (
    DeviceAdopted,
    DeviceDiscovered,
    DeviceDrifted,
    DeviceOnline,
    FieldDiff,
)
from tests.integration.query_api.conftest import serve
from tests.support.services import ServiceProcess

pytestmark = pytest.mark.integration

FLEET = 5_000
MODELS = ("SNSW-001P16EU", "SNPL-00112EU", "SPSW-004PE16EU", "SHSW-1")
START = datetime(2026, 11, 1, tzinfo=UTC)


def device_id(n: int) -> str:
    return f"shellyplus1pm-{n:012x}"


def fleet() -> list[Envelope]:
    datas: list[EventData] = []
    for n in range(FLEET):
        address = f"10.{n // 65536}.{n // 256 % 256}.{n % 256}"
        datas.append(
            DeviceDiscovered(
                device_id=device_id(n),
                model=MODELS[n % len(MODELS)],
                generation=1 if n % len(MODELS) == 3 else 2,
                mac=f"{n:012X}",
                address=address,
            )
        )
        datas.append(DeviceAdopted(device_id=device_id(n), name=f"dev-{n}", site=f"site-{n % 5}"))
        if n % 10:
            datas.append(DeviceOnline(device_id=device_id(n), address=address))
        if n % 100 == 0:
            diff = FieldDiff(path="sys.device.eco_mode", desired=True, actual=False)
            datas.append(DeviceDrifted(device_id=device_id(n), differences=(diff,)))
    return [
        new_event(d, source="test", actor="hearth", occurred_at=START + timedelta(seconds=i))
        for i, d in enumerate(datas)
    ]


async def test_five_thousand_devices_page_filter_count_and_export(
    nats_factory: Callable[..., EmbeddedNats],
    database_url: str,
    start_service: Callable[..., ServiceProcess],
) -> None:
    events = fleet()
    started = time.perf_counter()
    api = await serve(nats_factory, database_url, start_service, events)
    print(
        f"\n{len(events)} events published and projected in {time.perf_counter() - started:.1f} s"
    )
    headers = {"Authorization": f"Bearer {api.tokens['viewer']}"}
    async with aiohttp.ClientSession(headers=headers) as http:

        async def get(path: str) -> Any:
            async with http.get(api.base + path) as reply:
                assert reply.status == 200, await reply.text()
                return await reply.json()

        counts = await get("/api/v1/devices/counts")
        assert (counts["total"], counts["online"], counts["offline"]) == (FLEET, 4500, 0)
        assert (counts["unknown"], counts["drifted"]) == (500, 50)
        assert counts["by_site"] == {f"site-{i}": 1000 for i in range(5)}

        seen: list[str] = []
        cursor, pages, took = None, 0, time.perf_counter()
        while True:
            page = await get("/api/v1/devices?limit=200" + (f"&cursor={cursor}" if cursor else ""))
            seen += [d["device_id"] for d in page["items"]]
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
        print(f"{pages} pages of 200 in {time.perf_counter() - took:.2f} s")
        assert len(seen) == len(set(seen)) == FLEET

        drifted = await get("/api/v1/devices?drift=true&site=site-0&limit=200")
        assert len(drifted["items"]) == 50 and all(d["drifted"] for d in drifted["items"])
        assert (await get("/api/v1/devices?drift=true&site=site-1"))["items"] == []
        unknown = await get("/api/v1/devices?status=unknown&model=SNSW-001P16EU&limit=200")
        assert {d["model"] for d in unknown["items"]} == {"SNSW-001P16EU"}
        rest = await get(
            "/api/v1/devices?status=unknown&model=SNSW-001P16EU&limit=200"
            f"&cursor={unknown['next_cursor']}"
        )
        assert len(unknown["items"]) + len(rest["items"]) == 250  # n % 20 == 0
        assert len((await get("/api/v1/devices?q=dev-4999"))["items"]) == 1

        took = time.perf_counter()
        async with http.get(api.base + "/api/v1/devices/export?format=dnsmasq") as reply:
            lines = (await reply.text()).splitlines()
        print(f"dnsmasq export of {FLEET} devices in {time.perf_counter() - took:.2f} s")
        assert len([line for line in lines if line.startswith("dhcp-host=")]) == FLEET

    # The dashboard's fleet page shows one page and the counts of all.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        async with browser.post(
            api.base + "/login", data={"token": api.tokens["viewer"]}, allow_redirects=False
        ) as reply:
            assert reply.status == 303
        took = time.perf_counter()
        async with browser.get(api.base + "/devices?status=online") as reply:
            html = await reply.text()
        print(f"fleet page in {time.perf_counter() - took:.2f} s")
        assert len(re.findall(r'<tr data-device="', html)) == 50
        assert "<strong>5000</strong> devices" in html and 'id="next-page"' in html
