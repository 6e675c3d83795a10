"""The one query builder of the read endpoints: filters that apply only when given, newest
first, and keyset cursors (``seq`` below the last page's)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class Select:
    """``SELECT columns FROM table`` with the filters added so far.

    Each filter is a SQL template whose ``?`` marks stand for its one value; a filter whose
    value is None was not asked for and is left out.
    """

    table: str
    columns: str = "*"
    filters: tuple[tuple[str, Any], ...] = ()

    def where(self, template: str, value: Any) -> Select:
        return replace(self, filters=(*self.filters, (template, value)))

    def equal(self, **columns: Any) -> Select:
        """``column = value`` for each given column."""
        select = self
        for column, value in columns.items():
            select = select.where(f"{column} = ?", value)
        return select

    def between(self, column: str, since: Any, until: Any) -> Select:
        """``since <= column < until``, either end left open when not given."""
        return self.where(f"{column} >= ?", since).where(f"{column} < ?", until)

    def sql(
        self, *, below: int | None, limit: int, order_key: str = "seq"
    ) -> tuple[str, list[Any]]:
        clauses, values = [], []
        for template, value in self.filters:
            if value is None:
                continue
            values.append(value)
            clauses.append(template.replace("?", f"${len(values)}"))
        if below is not None:
            values.append(below)
            clauses.append(f"seq < ${len(values)}")
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        values.append(limit)
        return (
            f"SELECT {self.columns} FROM {self.table}{where} "  # noqa: S608 (no input in it)
            f"ORDER BY seq DESC LIMIT ${len(values)}",
            values,
        )

    async def page(
        self, conn: Any, *, cursor: int | None, limit: int
    ) -> tuple[list[Any], int | None]:
        """Newest first, ``limit`` rows, and the cursor of the next page."""
        sql, values = self.sql(below=cursor, limit=limit + 1)
        rows = await conn.fetch(sql, *values)
        more = len(rows) > limit
        rows = rows[:limit]
        return rows, rows[-1]["seq"] if more and rows else None

    async def search_page(
        self, conn: Any, *, cursor: int | None, limit: int, window: int
    ) -> tuple[list[Any], int | None]:
        """:meth:`page` over only the ``window`` rows below the cursor; when those are
        exhausted, the cursor of the next page points beneath them."""
        top = cursor or await conn.fetchval(
            f"SELECT coalesce(max(seq), 0) + 1 FROM {self.table}"  # noqa: S608 (no input in it)
        )
        low = max(top - window, 1)
        rows, next_cursor = await self.where("seq >= ?", low).page(conn, cursor=top, limit=limit)
        if next_cursor is None and low > 1:
            next_cursor = low
        return rows, next_cursor
