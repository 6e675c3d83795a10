"""Our reading of NATS header blocks gives what nats-py's gives, for any bytes."""

from __future__ import annotations

import random

import pytest
from nats.aio.client import Client

from hearth_servicekit.bus import BusClient, parse_header_lines

HEARTH = (
    b"Nats-Msg-Id: 0193a6f4-1b2c-7d3e-8f40-123456789abc\r\n"
    b"Hearth-Event-Type: DeploymentLogged\r\nHearth-Schema-Version: 1\r\n"
    b"Hearth-Correlation-Id: github:push 42\r\n\r\n"
)


def test_the_headers_of_an_event_read_the_same() -> None:
    assert parse_header_lines(HEARTH) == Client._parse_header_lines(HEARTH)
    assert parse_header_lines(HEARTH)["Hearth-Event-Type"] == "DeploymentLogged"


@pytest.mark.parametrize("byte", range(256))
def test_any_byte_in_a_name_or_a_value_reads_the_same(byte: int) -> None:
    c = bytes([byte])
    for raw in (
        b"A" + c + b"B: v\r\n",
        b"K: " + c + b"\r\n",
        c + b":x\r\n",
        b"X:" + c + b"y\r\nZ: 1\r\n\r\n",
        b" " + c + b" : " + c + b" \r\n",
    ):
        assert parse_header_lines(raw) == Client._parse_header_lines(raw), raw


def test_random_blocks_read_the_same() -> None:
    rng = random.Random(13)
    alphabet = b"ab:\r\n \t\x0b\x0c\x1c\x1f\x85\xc3\xa9\xff-"
    for _ in range(20_000):
        raw = bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 16)))
        assert parse_header_lines(raw) == Client._parse_header_lines(raw), raw


def test_the_bus_client_uses_it() -> None:
    assert BusClient()._parse_header_lines(HEARTH) == parse_header_lines(HEARTH)
    assert BusClient._parse_header_lines is parse_header_lines
