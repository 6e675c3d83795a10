import json
import logging

import pytest

from hearth_servicekit.logging import configure_logging, get_logger


def test_json_lines_carry_the_service_and_never_a_secret(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("deployer", fmt="json")
    get_logger("t").info(
        "connected",
        correlation_id="c-1",
        password="hunter2",
        api_token="abc",
        database_dsn="postgresql://u:p@h/db",
    )
    logging.getLogger("nats").warning("library line")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert lines[0]["service"] == "deployer"
    assert lines[0]["event"] == "connected"
    assert lines[0]["correlation_id"] == "c-1"
    assert lines[0]["password"] == lines[0]["api_token"] == lines[0]["database_dsn"] == "***"
    assert "hunter2" not in json.dumps(lines)
    assert lines[1]["service"] == "deployer"
    assert lines[1]["event"] == "library line"
    assert lines[1]["level"] == "warning"


def test_values_json_cannot_hold_natively_still_make_one_json_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Lines are written by orjson; what it cannot write (an integer over 64 bits) falls
    back to the standard library, and objects are written as their text."""
    import datetime as dt

    configure_logging("deployer", fmt="json")
    log = get_logger("t")
    log.info("big", count=2**70, keys={1: "one"})
    log.info("objects", at=dt.datetime(2026, 12, 5, tzinfo=dt.UTC), path=object(), items={3})
    big, objects = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert big["count"] == 2**70 and big["keys"] == {"1": "one"}
    assert objects["at"].startswith("2026-12-05") and objects["path"].startswith("<object")
    assert objects["level"] == "info" and objects["logger"] == "t"
