"""The contract every :class:`RemoteHost` adapter keeps, as one test class.

Subclass it once per adapter and provide two fixtures: ``make_host`` (a host behind a
given fence) and ``places`` (an existing empty root, and a backup directory outside it).
``tests/integration/remote/test_contract_ssh.py`` runs it against a real sshd,
``tests/unit/remote/test_contract_memory.py`` against :class:`MemoryHost`. Every
assertion goes through the port, so both answer exactly the same questions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

import pytest

from hearth_deployer.domain.plan import FileEntry
from hearth_deployer.remote import (
    BackupCorrupt,
    Backups,
    PathOutsideRoot,
    RemoteHost,
    RemotePathError,
    UploadFile,
)
from hearth_deployer.remote.confine import TEMP_PREFIX
from hearth_deployer.remote.fence import UNFENCED, Fence
from hearth_deployer.remote.port import FileStat, Known, stamped_mtime, stats_digest

MakeHost = Callable[[Fence], RemoteHost]

BEFORE = {
    "configuration.yaml": b"homeassistant:\n  name: Home\n",
    "automations.yaml": b"- id: lights\n",
    "scripts/night mode.sh": b"#!/bin/sh\n",
    "odd/new\nline.yaml": b"x: 1\n",
    "untouched.yaml": b"stays\n",
    "--remove-files": b"a name tar must not read as an option\n",
}


#: What a deployment plans to touch: two changes, one removal, new files in new folders.
TOUCHED = [
    "configuration.yaml",
    "scripts/night mode.sh",
    "odd/new\nline.yaml",
    "automations.yaml",
    "packages/new.yaml",
    "packages/lights/hue.yaml",
]


async def seed(host: RemoteHost, root: str) -> None:
    await host.upload(root, [UploadFile(p, data=d) for p, d in BEFORE.items()])
    await host.upload(root, [UploadFile("scripts/night mode.sh", data=b"#!/bin/sh\n", mode=0o755)])


async def half_deploy(host: RemoteHost, root: str, *extra: UploadFile) -> None:
    """What a deployment that stopped half-way leaves: some of ``TOUCHED`` changed."""
    await host.upload(
        root,
        [
            UploadFile("configuration.yaml", data=b"broken: [\n"),
            UploadFile("scripts/night mode.sh", data=b"changed", mode=0o600),
            UploadFile("packages/new.yaml", data=b"new: true\n"),
            UploadFile("packages/lights/hue.yaml", data=b"hue: true\n"),
            *extra,
        ],
    )
    await host.remove(root, ["automations.yaml", "odd/new\nline.yaml"])


@dataclass(frozen=True)
class Places:
    root: str
    backups: str


class Stopped(BaseException):
    pass


class Switch:
    """A fence that holds until ``lost`` is set."""

    def __init__(self) -> None:
        self.lost = False

    def valid(self) -> bool:
        return not self.lost

    def check(self, step: str) -> None:
        if self.lost:
            raise Stopped(step)

    async def confirm(self, step: str) -> None:
        self.check(step)


def entry(path: str, data: bytes, mode: int = 0o644) -> FileEntry:
    return FileEntry(path, hashlib.sha256(data).hexdigest(), len(data), mode)


class RemoteHostContract:
    """What the workflow may rely on from any host."""

    @pytest.fixture
    def host(self, make_host: MakeHost) -> RemoteHost:
        return make_host(UNFENCED)

    # -- commands ------------------------------------------------------------------------
    async def test_run_returns_exit_status_and_output(
        self, host: RemoteHost, places: Places
    ) -> None:
        assert (await host.run("true")).ok
        assert (await host.run("false")).exit_status == 1
        assert (await host.run("exit 3")).exit_status == 3
        assert (await host.run("echo hello", cwd=places.root)).stdout == "hello\n"
        missing = await host.run("no-such-command-hearth")
        assert missing.exit_status == 127
        assert "not found" in missing.stderr
        assert not (await host.run("true", cwd=f"{places.root}/missing")).ok

    # -- uploads -------------------------------------------------------------------------
    async def test_upload_places_exact_bytes_and_modes(
        self, host: RemoteHost, places: Places
    ) -> None:
        files = [
            UploadFile("configuration.yaml", data=b"a: 1\n"),
            UploadFile("scripts/deep/run.sh", data=b"#!/bin/sh\n", mode=0o755),
            UploadFile("secrets.yaml", data=b"pw: x\n", mode=0o600),
            UploadFile("empty.yaml", data=b""),
        ]
        result = await host.upload(places.root, files)
        assert sorted(result.files) == sorted(f.path for f in files)
        assert result.bytes_sent == sum(len(f.data or b"") for f in files)
        assert await host.manifest(places.root) == {
            f.path: entry(f.path, f.data or b"", f.mode)
            for f in sorted(files, key=lambda f: f.path)
        }
        read = await host.read_files(places.root, ["configuration.yaml", "nope.yaml"], limit=100)
        assert read == {"configuration.yaml": b"a: 1\n", "nope.yaml": None}

    async def test_a_stamped_upload_knows_what_the_listing_shows(
        self, host: RemoteHost, places: Places
    ) -> None:
        stamp = 1_700_000_000
        files = [
            UploadFile("a.yaml", data=b"a: 1\n", mode=0o640, mtime=stamp),
            UploadFile("sub/big.bin", data=bytes(range(256)) * 200, mode=0o600, mtime=stamp + 1),
            UploadFile("free.txt", data=b"no stamp\n"),
        ]
        result = await host.upload(places.root, files)
        listed = await host.file_stats(places.root, (), ["a.yaml", "sub/big.bin"])
        assert result.stats == listed
        assert listed is not None and listed["a.yaml"] == FileStat(5, 0o640, stamped_mtime(stamp))
        assert "free.txt" not in result.stats  # not stamped: only a listing can say

    async def test_a_replaced_file_is_whole_and_no_temporary_is_left(
        self, host: RemoteHost, places: Places
    ) -> None:
        await host.upload(places.root, [UploadFile("a.yaml", data=b"old\n" * 100)])
        await host.upload(places.root, [UploadFile("a.yaml", data=b"new\n", mode=0o640)])
        assert await host.manifest(places.root) == {"a.yaml": entry("a.yaml", b"new\n", 0o640)}
        assert [n for n in await host.list_dir(places.root) if n.startswith(".hearth")] == []

    async def test_bad_uploads_are_refused_before_anything_is_written(
        self, host: RemoteHost, places: Places
    ) -> None:
        twice = [UploadFile("a.yaml", data=b"1"), UploadFile("./a.yaml", data=b"2")]
        with pytest.raises(ValueError, match="twice"):
            await host.upload(places.root, twice)
        for outside in ("../escape.yaml", "/etc/escape.yaml", "a/../../escape.yaml"):
            with pytest.raises(PathOutsideRoot):
                await host.upload(places.root, [UploadFile(outside, data=b"x")])
        assert await host.manifest(places.root) == {}

    async def test_a_file_in_the_way_of_a_directory_is_an_error(
        self, host: RemoteHost, places: Places
    ) -> None:
        await host.upload(places.root, [UploadFile("a", data=b"file")])
        with pytest.raises(RemotePathError):
            await host.upload(places.root, [UploadFile("a/b.yaml", data=b"x")])

    # -- reading -------------------------------------------------------------------------
    async def test_manifest_skips_ignored_and_hearths_own_files(
        self, host: RemoteHost, places: Places
    ) -> None:
        await host.upload(
            places.root,
            [
                UploadFile("keep.yaml", data=b"k"),
                UploadFile(".storage/core.config", data=b"{}"),
                UploadFile("logs/home.log", data=b"log"),
                UploadFile(f"sub/{TEMP_PREFIX}half", data=b"half-written"),
            ],
        )
        manifest = await host.manifest(places.root, (".storage/", "*.log"))
        assert manifest == {"keep.yaml": entry("keep.yaml", b"k")}
        await host.remove_temporaries(places.root)
        everything = await host.manifest(places.root)
        assert sorted(everything) == [".storage/core.config", "keep.yaml", "logs/home.log"]
        gone = await host.read_files(places.root, [f"sub/{TEMP_PREFIX}half"], limit=100)
        assert gone == {f"sub/{TEMP_PREFIX}half": None}

    async def test_the_quick_check_hashes_only_what_changed(
        self, host: RemoteHost, places: Places
    ) -> None:
        await host.upload(places.root, [UploadFile(p, data=d) for p, d in BEFORE.items()])
        first = await host.checked_manifest(places.root, (), {})
        assert sorted(first.hashed) == sorted(BEFORE)
        assert first.entries == await host.manifest(places.root)
        known = {p: Known(s.size, s.mtime, first.entries[p].sha256) for p, s in first.stats.items()}
        assert (await host.checked_manifest(places.root, (), known)).hashed == []
        await host.upload(places.root, [UploadFile("untouched.yaml", data=b"changed, longer\n")])
        again = await host.checked_manifest(places.root, (), known)
        assert again.hashed == ["untouched.yaml"]
        assert again.entries == await host.manifest(places.root)
        stats = await host.file_stats(places.root, ())
        assert stats is not None
        assert {p: (s.size, s.mode) for p, s in stats.items()} == {
            p: (e.size, e.mode) for p, e in again.entries.items()
        }

    async def test_a_check_given_the_tree_it_found_returns_it_while_the_listing_stays(
        self, host: RemoteHost, places: Places
    ) -> None:
        """The fingerprint of the listing as the host printed it is the one of the stats
        it was parsed into (so a tree rebuilt from stats after an upload is recognised);
        while it holds, the tree comes back as it was; any file changed, added or removed
        ends it."""
        await seed(host, places.root)
        first = await host.checked_manifest(places.root, (), {})
        stats = await host.file_stats(places.root, ())
        assert stats is not None
        assert first.listing == stats_digest(first.stats) == stats_digest(stats)
        again = await host.checked_manifest(places.root, (), {}, first)
        assert again == replace(first, hashed=[])
        assert again.entries is not first.entries and again.stats is not first.stats
        changes: list[Callable[[], Awaitable[object]]] = [
            lambda: host.upload(places.root, [UploadFile("untouched.yaml", data=b"moved\n")]),
            lambda: host.upload(places.root, [UploadFile("added.yaml", data=b"new\n")]),
            lambda: host.remove(places.root, ["automations.yaml"]),
        ]
        for change in changes:
            before = await host.checked_manifest(places.root, (), {})
            await change()
            after = await host.checked_manifest(places.root, (), {}, before)
            assert after.listing != before.listing
            assert after.entries == await host.manifest(places.root)
            assert sorted(after.hashed) == sorted(after.entries)  # found by hashing, anew

    async def test_stats_of_named_files_match_the_whole_listing(
        self, host: RemoteHost, places: Places
    ) -> None:
        """After an upload, only its files are listed again; what is missing, a folder or
        ignored is left out, never an error."""
        await host.upload(places.root, [UploadFile(p, data=d) for p, d in BEFORE.items()])
        await host.upload(places.root, [UploadFile("it's here/odd name.yaml", data=b"x")])
        whole = await host.file_stats(places.root, ("*.md",))
        assert whole is not None
        named = [*sorted(whole)[:2], "it's here/odd name.yaml"]
        some = await host.file_stats(
            places.root, ("*.md",), [*named, "missing.yaml", "it's here", "notes.md"]
        )
        assert some == {p: whole[p] for p in named}
        assert await host.file_stats(places.root, (), []) == {}
        assert await host.file_stats(f"{places.root}/missing", (), named) is None
        with pytest.raises(PathOutsideRoot):
            await host.file_stats(places.root, (), ["../escape.yaml"])

    async def test_a_missing_root_is_a_clear_error(self, host: RemoteHost, places: Places) -> None:
        missing = f"{places.root}/missing"
        with pytest.raises(RemotePathError):
            await host.manifest(missing)
        with pytest.raises(RemotePathError):
            await host.free_space(missing)
        assert await host.file_stats(missing, ()) is None

    async def test_free_space_is_reported(self, host: RemoteHost, places: Places) -> None:
        assert await host.free_space(places.root) > 0

    # -- removing ------------------------------------------------------------------------
    async def test_remove_returns_what_existed(self, host: RemoteHost, places: Places) -> None:
        await host.upload(
            places.root, [UploadFile("a.yaml", data=b"a"), UploadFile("d/b.yaml", data=b"b")]
        )
        assert await host.remove(places.root, ["a.yaml", "nope.yaml", "d/b.yaml", "x/y"]) == [
            "a.yaml",
            "d/b.yaml",
        ]
        assert await host.remove(places.root, ["a.yaml"]) == []
        assert await host.manifest(places.root) == {}

    # -- the fence -----------------------------------------------------------------------
    @pytest.mark.parametrize("write", ["upload", "remove", "cleanup", "command", "backup"])
    async def test_a_lost_fence_stops_every_write(
        self, make_host: MakeHost, places: Places, write: str
    ) -> None:
        fence = Switch()
        host = make_host(fence)
        await seed(host, places.root)
        before = await host.manifest(places.root)
        fence.lost = True
        with pytest.raises(Stopped):
            if write == "upload":
                await host.upload(places.root, [UploadFile("configuration.yaml", data=b"2")])
            elif write == "remove":
                await host.remove(places.root, ["configuration.yaml"])
            elif write == "cleanup":
                await host.remove_temporaries(places.root)
            elif write == "command":
                await host.run("true")
            else:
                await Backups(host).take(places.root, None, places.backups, "b1")
        fence.lost = False
        assert await host.manifest(places.root) == before
        assert await Backups(host).kept(places.backups) == []

    # -- backups -------------------------------------------------------------------------
    async def test_backup_then_restore_is_byte_identical(
        self, host: RemoteHost, places: Places
    ) -> None:
        root = places.root
        await seed(host, root)
        before = await host.manifest(root)
        touched = TOUCHED
        info = await Backups(host).take(root, touched, places.backups, "deploy-1")
        assert info.file_count == 4
        assert info.absent == ("packages/lights/hue.yaml", "packages/new.yaml")
        assert info.absent_dirs == ("packages/lights", "packages")
        assert info.sha256 == await host.digest(info.archive)
        await half_deploy(host, root)
        assert await host.manifest(root) != before

        result = await Backups(host).restore(root, info, touched=touched)
        assert sorted(result.restored) == sorted(set(touched) - set(info.absent))
        assert result.removed == info.absent
        assert result.removed_dirs == ("packages/lights", "packages")
        assert await host.manifest(root) == before
        assert (await host.existing(root, ["packages/x"])).absent_dirs == ("packages",)
        assert [n for n in await host.list_dir(root) if n.startswith(".hearth")] == []

    async def test_only_the_newest_backups_are_kept(self, host: RemoteHost, places: Places) -> None:
        await seed(host, places.root)
        backups = Backups(host)
        for number in range(5):
            await backups.take(
                places.root, ["configuration.yaml"], places.backups, f"b{number}", keep=3
            )
        assert [b.backup_id for b in await backups.kept(places.backups)] == ["b4", "b3", "b2"]
        assert sorted(await host.list_dir(places.backups)) == sorted(
            f"b{n}.{ext}" for n in (2, 3, 4) for ext in ("tar.gz", "json")
        )
        # Packing beside them counts the complete backups there (not a hidden leftover).
        await host.write_private(f"{places.backups}/.hearth-tmp-b5.json", b"{}")
        real_root, real_dest = (
            await host.real_root(places.root),
            await host.private_dir(places.backups),
        )
        packed = await host.pack(real_root, ["configuration.yaml"], f"{real_dest}/x.partial")
        assert packed.beside == 3
        await host.delete([f"{real_dest}/x.partial", f"{places.backups}/.hearth-tmp-b5.json"])
        assert await backups.prune(places.backups, keep=1) == ["b3", "b2"]
        assert (await backups.load(places.backups, "b4")).backup_id == "b4"
        with pytest.raises(RemotePathError, match="not found"):
            await backups.load(places.backups, "b3")

    async def test_stamped_backups_are_pruned_oldest_first_and_never_the_one_just_taken(
        self, host: RemoteHost, places: Places
    ) -> None:
        """Backups named as the deployer names them (when taken, first) are pruned by
        name; two taken in the same second at the cut are told apart by their JSON; and
        the backup a deployment just took stays even when the clock stepped back."""
        await seed(host, places.root)
        backups = Backups(host)

        async def take(backup_id: str) -> None:
            await backups.take(
                places.root, ["configuration.yaml"], places.backups, backup_id, keep=2
            )

        async def kept() -> list[str]:
            return [b.backup_id for b in await backups.kept(places.backups)]

        for backup_id in ("20261206T100001Z-a", "20261206T100002Z-b", "20261206T100003Z-c"):
            await take(backup_id)
        assert await kept() == ["20261206T100003Z-c", "20261206T100002Z-b"]
        # Taken after c, in the same second, with a name that sorts before it: by name c
        # would stay and d go; c is the older one.
        await take("20261206T100003Z-0")
        assert await kept() == ["20261206T100003Z-0", "20261206T100003Z-c"]
        # The clock stepped back: the newest backup's name is the oldest.
        await take("20261206T090000Z-e")
        assert sorted(await kept()) == ["20261206T090000Z-e", "20261206T100003Z-0"]

    async def test_a_corrupted_backup_is_refused_before_touching_files(
        self, host: RemoteHost, places: Places
    ) -> None:
        await seed(host, places.root)
        info = await Backups(host).take(places.root, ["configuration.yaml"], places.backups, "b1")
        await host.write_private(info.archive, b"not the archive")
        await host.upload(places.root, [UploadFile("configuration.yaml", data=b"current")])
        before = await host.manifest(places.root)
        with pytest.raises(BackupCorrupt, match="sha256 is"):
            await Backups(host).restore(places.root, info, touched=["configuration.yaml"])
        assert await host.manifest(places.root) == before

    async def test_a_backup_listing_a_path_outside_the_root_is_refused(
        self, host: RemoteHost, places: Places
    ) -> None:
        await seed(host, places.root)
        info = await Backups(host).take(places.root, ["configuration.yaml"], places.backups, "b1")
        before = await host.manifest(places.root)
        for crafted in (
            replace(info, files=("../configuration.yaml",)),
            replace(info, absent=("/etc/x",)),
            replace(info, absent_dirs=("a/../b",)),
        ):
            with pytest.raises(BackupCorrupt, match="not a path inside"):
                await Backups(host).restore(places.root, crafted)
        assert await host.manifest(places.root) == before

    async def test_bad_backup_places_and_ids_are_refused(
        self, host: RemoteHost, places: Places
    ) -> None:
        await seed(host, places.root)
        with pytest.raises(RemotePathError, match="lies inside"):
            await Backups(host).take(places.root, None, f"{places.root}/.backups", "b1")
        with pytest.raises(ValueError, match="backup id"):
            await Backups(host).take(places.root, None, places.backups, "../x")
        with pytest.raises(RemotePathError, match="directory, not a file"):
            await Backups(host).take(places.root, ["scripts"], places.backups, "b2")
