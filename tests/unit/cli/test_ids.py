"""Ids in, ids out: unique prefixes are taken, shown ids are short, unambiguous, copyable."""

from __future__ import annotations

from typing import Any

import pytest

from hearth.cli.ids import IdProblem, match_prefix, resolve_deployment, short_ids

# Two UUIDv7 ids made in the same second share their first 11 characters.
A = "01a24116-ebfb-717b-9d15-1c3701a6849a"
B = "01a24116-ebf3-73a1-905c-aca084d8d015"
C = "287951c1-2e44-5a4f-955e-506de99e7ab0"


def test_short_ids_are_eight_characters_unless_that_is_ambiguous() -> None:
    shown = short_ids([A, B, C])
    assert shown[C] == "287951c1"
    assert (shown[A], shown[B]) == ("01a24116-ebfb", "01a24116-ebf3")
    assert all(full.startswith(short) and "…" not in short for full, short in shown.items())


def test_a_short_id_never_ends_on_a_dash() -> None:
    shown = short_ids(["01a24116-aaaa-7000-8000-000000000000", "01a24116x"])
    assert shown["01a24116-aaaa-7000-8000-000000000000"] == "01a24116-a"


def test_a_unique_prefix_names_its_id() -> None:
    assert match_prefix("2879", [A, B, C], "deployment id") == C
    assert match_prefix("01A24116-EBFB", [A, B, C], "deployment id") == A
    assert match_prefix("ffff", [A, B, C], "deployment id") is None


def test_an_ambiguous_prefix_lists_the_candidates() -> None:
    with pytest.raises(IdProblem, match=r"matches 2 deployment ids: 01a24116-ebf3, 01a24116-ebfb"):
        match_prefix("01a24116", [A, B, C], "deployment id")


def test_a_too_short_prefix_is_refused() -> None:
    with pytest.raises(IdProblem, match="at least 4 characters"):
        match_prefix("287", [C], "deployment id")


def test_backup_ids_keep_their_case() -> None:
    backups = ["20261204T124701Z-59872e42b7af", "20261204T124707Z-8476a352551b"]
    assert match_prefix("20261204T124701", backups, "backup id") == backups[0]


class ListingApi:
    """The deployments list as the API serves it, counting requests."""

    def __init__(self, ids: list[str]) -> None:
        self.ids = ids
        self.requests: list[dict[str, Any]] = []

    async def call(self, method: str, path: str, **query: Any) -> dict[str, Any]:
        assert (method, path) == ("GET", "/api/v1/deployments")
        self.requests.append(query)
        prefix = query.get("id_prefix", "")
        found = [i for i in self.ids if i.startswith(prefix)]
        return {"items": [{"id": i} for i in found[: query["limit"]]], "next_cursor": None}


async def test_a_prefix_is_resolved_in_one_request_however_many_deployments() -> None:
    ids = [f"0193{n:04x}-1111-7000-8000-000000000000" for n in range(5000)]
    api = ListingApi(ids)
    assert await resolve_deployment(api, "0193002A-11") == ids[42]  # type: ignore[arg-type]
    assert api.requests == [{"id_prefix": "0193002a-11", "limit": 11}]
    with pytest.raises(IdProblem, match="matches more than 10 deployment ids"):
        await resolve_deployment(api, "019300")  # type: ignore[arg-type]
    with pytest.raises(IdProblem, match="matches 8 deployment ids: 01931380, 01931381,"):
        await resolve_deployment(api, "0193138")  # type: ignore[arg-type]
