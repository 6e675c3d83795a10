"""Files ``hearth up`` writes while others read them are replaced whole, never truncated."""

from __future__ import annotations

from pathlib import Path

from hearth.stack.layout import write_private


def test_a_reader_of_the_old_file_still_sees_it_whole_and_the_new_one_is_private(
    tmp_path: Path,
) -> None:
    path = tmp_path / "stack.json"
    write_private(path, '{"old": true}')
    with path.open() as reader:  # open across the rewrite, as `hearth status` may be
        write_private(path, '{"new": true}')
        assert reader.read() == '{"old": true}'  # an in-place truncate would show ""
    assert path.read_text() == '{"new": true}'
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["stack.json"]  # no temporary left
