"""The in-memory host's programmable faults: what a behavioural test can make it do."""

from __future__ import annotations

import pytest

from hearth_deployer.remote import (
    CommandResult,
    CommandTimedOut,
    ConnectionDropped,
    DiskFull,
    MemoryHost,
    MemoryHosts,
    SSHTarget,
    UploadFile,
)

ROOT = "/srv/config"


@pytest.fixture
def host() -> MemoryHost:
    return MemoryHost("box", roots=[ROOT])


async def test_a_full_disk_refuses_a_file_and_keeps_the_old_one(host: MemoryHost) -> None:
    await host.upload(ROOT, [UploadFile("a.yaml", data=b"old\n")])
    host.fill_disk(free=2)
    with pytest.raises(DiskFull) as full:
        await host.upload(ROOT, [UploadFile("a.yaml", data=b"a much longer file\n")])
    assert full.value.free_bytes == 2 + len(b"old\n")
    assert host.files[f"{ROOT}/a.yaml"].data == b"old\n"
    assert await host.free_space(ROOT) == 2


async def test_programmed_commands_answer_and_are_recorded(host: MemoryHost) -> None:
    host.on("ha core check", CommandResult(1, "", "Invalid config\n"))
    host.on("systemctl reload x", lambda command: CommandResult(0, f"ran {command}\n", ""))
    assert (await host.run("ha core check", cwd=ROOT)).stderr == "Invalid config\n"
    assert (await host.run("systemctl reload x")).stdout == "ran systemctl reload x\n"
    assert host.ran == ["ha core check", "systemctl reload x"]


async def test_a_slow_command_times_out(host: MemoryHost) -> None:
    host.on("sleep-long", 0, delay=5)
    with pytest.raises(CommandTimedOut):
        await host.run("sleep-long", timeout=0.01)


async def test_a_failure_is_raised_as_often_as_asked(host: MemoryHost) -> None:
    host.fail("upload", ConnectionDropped(host="box", port=22, reason="reset"), times=2)
    for _ in range(2):
        with pytest.raises(ConnectionDropped):
            await host.upload(ROOT, [UploadFile("a.yaml", data=b"a")])
    await host.upload(ROOT, [UploadFile("a.yaml", data=b"a")])
    assert host.files[f"{ROOT}/a.yaml"].data == b"a"


async def test_a_dropped_connection_fails_everything_until_reconnected(host: MemoryHost) -> None:
    host.drop_connection()
    with pytest.raises(ConnectionDropped):
        await host.manifest(ROOT)
    with pytest.raises(ConnectionDropped):
        await host.run("true")
    host.reconnect()
    assert await host.manifest(ROOT) == {}


async def test_hosts_share_files_across_fences() -> None:
    hosts = MemoryHosts()
    box = hosts.add("box.lan", "hearth", roots=[ROOT])
    target = SSHTarget(host="box.lan", user="hearth", client_key=b"unused")
    await hosts.host(target).upload(ROOT, [UploadFile("a.yaml", data=b"a")])
    assert box.files[f"{ROOT}/a.yaml"].data == b"a"
    with pytest.raises(ConnectionDropped, match="no such host"):
        hosts.host(SSHTarget(host="other.lan", user="hearth", client_key=b"unused"))
