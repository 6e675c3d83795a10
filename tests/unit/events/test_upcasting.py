import pytest

from hearth_events.upcasting import SchemaVersionError, upcast, upcaster


def test_upcasters_chain_from_old_to_current() -> None:
    @upcaster("TestRenamed", 1)
    def _v1(data: dict[str, object]) -> dict[str, object]:
        data["name"] = data.pop("title")
        return data

    @upcaster("TestRenamed", 2)
    def _v2(data: dict[str, object]) -> dict[str, object]:
        return {**data, "tags": []}

    assert upcast("TestRenamed", 1, {"title": "x"}, 3) == {"name": "x", "tags": []}
    assert upcast("TestRenamed", 3, {"name": "x", "tags": []}, 3) == {"name": "x", "tags": []}


def test_a_gap_in_the_chain_is_an_error() -> None:
    with pytest.raises(SchemaVersionError, match="no upcaster for TestGap from v1 to v2"):
        upcast("TestGap", 1, {}, 2)


def test_registering_twice_is_refused() -> None:
    upcaster("TestTwice", 1)(lambda d: d)
    with pytest.raises(ValueError, match="already exists"):
        upcaster("TestTwice", 1)(lambda d: d)
