"""Tar streams (``git archive`` output, GitHub tarballs) are extracted a chunk at a time."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path
from typing import IO, cast

from hearth_deployer.adapters import treeio


class SizedReadsOnly(io.RawIOBase):
    """A stream that fails on any read without a bound, or with one above a chunk."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)
        self.reads: list[int] = []

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        assert 0 <= size <= treeio.CHUNK, f"read({size}) would take the stream whole"
        self.reads.append(size)
        return self._data.read(size)


def archive(files: dict[str, bytes], *, gzipped: bool) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz" if gzipped else "w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_a_large_archive_is_extracted_in_bounded_reads(tmp_path: Path) -> None:
    big = os.urandom(3 * treeio.CHUNK + 17)
    for gzipped, top in ((False, ""), (True, "alice-home-abc1234/")):
        stream = SizedReadsOnly(
            archive({f"{top}www/big.bin": big, f"{top}a.yaml": b"a: 1\n"}, gzipped=gzipped)
        )
        reads = treeio.GitReads()
        dest = tmp_path / str(gzipped)
        manifest = treeio.extract_stream(
            cast(IO[bytes], stream),
            dest,
            strip="",
            reads=reads,
            gzipped=gzipped,
            top_level=bool(top),
        )
        assert sorted(manifest) == ["a.yaml", "www/big.bin"]
        assert (dest / "www/big.bin").read_bytes() == big
        assert len(stream.reads) > 3
        assert reads.largest_read <= treeio.CHUNK
