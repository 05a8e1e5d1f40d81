"""A result being fetched: the user's SQL wrapped with the casts each format needs, MAXREC, one
read-only snapshot, and PostgreSQL errors turned into the archive's errors."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import psycopg
from psycopg import errors as pg

from archive.errors import ArchiveError, QueryError, QueryTimeout, ServiceError
from archive.metadata.fields import VOField
from archive.results.columns import FieldText, binary_cast, is_text, text_cast
from archive.results.fetch import (
    Chunk,
    binary_messages,
    copy_messages,
    fixed_first,
    parse_binary,
)


def archive_error(exc: BaseException) -> ArchiveError:
    """The archive's error for a PostgreSQL (or parser) failure, with a message for the user."""
    if isinstance(exc, ArchiveError):
        return exc
    if isinstance(exc, pg.QueryCanceled):
        return QueryTimeout(f"the query ran out of time: {exc.diag.message_primary or exc}")
    if isinstance(exc, psycopg.Error) and exc.sqlstate:
        message = exc.diag.message_primary or str(exc)
        if exc.sqlstate[:2] in ("22", "42", "2B", "0A", "21", "23", "44", "P0"):
            return QueryError(message)  # data, syntax, privilege, feature: the query's fault
        return ServiceError(f"the database failed: {message}")
    return ServiceError(f"the result could not be written: {exc}")


@dataclass
class Result:
    """The rows of ``sql`` described by ``fields``, fetched by a writer in one of two ways.

    After the rows are consumed, ``overflow`` says whether MAXREC cut the result short and
    ``rows`` how many were written.
    """

    cursor: object
    sql: str
    fields: Sequence[VOField]
    maxrec: int | None = None
    overflow: bool = False
    rows: int = 0
    names: list[str] = field(init=False)
    # what a VOTable carries beside the rows: DataLink service descriptors, provenance INFOs
    service_descriptors: Sequence = ()
    infos: Sequence = ()
    # what FITS must know before the rows, when the caller knows it (an export: its file's
    # rows come from the partition plan), so the query is not run twice
    known_sizes: Sizes | None = None

    def __post_init__(self) -> None:
        self.names = [f"c{i}" for i in range(len(self.fields))]

    def source(self, exprs: Sequence[str], extra: str = "") -> str:
        names = ", ".join(self.names)
        select = ", ".join(exprs)
        limit = "" if self.maxrec is None else f" LIMIT {self.maxrec + 1}"
        return f"SELECT {select} FROM ({self.sql}) AS q({names}){extra}{limit}"

    def _cut(self, batches: Iterator[list]) -> Iterator[list]:
        """Stop at MAXREC rows; one more row fetched means the result overflowed."""
        for batch in batches:
            if self.maxrec is not None and self.rows + len(batch) > self.maxrec:
                keep = self.maxrec - self.rows
                self.overflow = True
                if keep:
                    self.rows += keep
                    yield batch[:keep]
                return
            self.rows += len(batch)
            yield batch

    def chunks(self) -> Iterator[Chunk]:
        """Column arrays (binary COPY), batch by batch."""
        order = fixed_first(self.fields)
        fields = [self.fields[i] for i in order]
        exprs = [binary_cast(self.fields[i], self.names[i]) for i in order]
        sql = f"COPY ({self.source(exprs)}) TO STDOUT (FORMAT binary)"
        limit = None if self.maxrec is None else self.maxrec + 1
        back = np.argsort(order)
        messages = binary_messages(copy_messages(self.cursor, sql, limit))
        for batch in self._cut(messages):
            for chunk in parse_binary(batch, fields):
                yield Chunk(chunk.rows, [chunk.columns[i] for i in back])

    def text_rows(self, style: FieldText, options: str) -> Iterator[list[bytes]]:
        """Rows as PostgreSQL writes them in text or csv COPY (``options``), batch by batch."""
        exprs = [text_cast(f, n, style) for f, n in zip(self.fields, self.names, strict=True)]
        sql = f"COPY ({self.source(exprs)}) TO STDOUT ({options})"
        limit = None if self.maxrec is None else self.maxrec + 1
        return self._cut(copy_messages(self.cursor, sql, limit))

    def plan(self) -> None:
        """Plan the query without running it: syntax, columns and privileges fail here."""
        names = ", ".join(self.names)
        self.cursor.execute(f"SELECT * FROM ({self.sql}) AS q({names}) LIMIT 0")

    def sizes(self) -> Sizes:
        """What FITS must write before the first row: one aggregate over the query (MAXREC + 1
        rows at most) in the same snapshot as the rows, unless ``known_sizes`` says it."""
        if self.known_sizes is not None:
            return self.known_sizes
        measures, plan = ["count(*)"], []
        for i, (f, n) in enumerate(zip(self.fields, self.names, strict=True)):
            value = binary_cast(f, n)
            if is_text(f):
                measures.append(f"coalesce(max(octet_length({value})), 0)")
                plan.append(("width", i))
            elif f.is_array:
                measures.append(f"coalesce(max(cardinality({value})), 0)")
                plan.append(("width", i))
            elif f.datatype in ("unsignedByte", "short", "int", "long"):
                measures += [f"min({value})", f"max({value})", f"count(*) - count({n})"]
                plan.append(("range", i))
        limit = "" if self.maxrec is None else f" LIMIT {self.maxrec + 1}"
        names = ", ".join(self.names)
        self.cursor.execute(
            f"SELECT {', '.join(measures)} FROM "
            f"(SELECT * FROM ({self.sql}) AS q({names}){limit}) AS q"
        )
        row = list(self.cursor.fetchone())
        sizes = Sizes(int(row.pop(0)))
        for kind, i in plan:
            if kind == "width":
                sizes.widths[i] = int(row.pop(0))
            else:
                low, high, nulls = row.pop(0), row.pop(0), row.pop(0)
                sizes.ranges[i] = (low, high, int(nulls))
        return sizes


@dataclass
class Sizes:
    """Rows (up to MAXREC + 1); longest value of each text (bytes) and array (elements)
    column; (min, max, NULL count) of each integer column."""

    rows: int
    widths: dict[int, int] = field(default_factory=dict)
    ranges: dict[int, tuple] = field(default_factory=dict)


@contextmanager
def snapshot(connection) -> Iterator[object]:
    """A cursor in a read-only REPEATABLE READ transaction (a count and the rows agree), rolled
    back at the end; PostgreSQL errors come out as archive errors."""
    if connection.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise ServiceError("the result connection is inside a transaction already")
    with connection.cursor() as cursor:
        try:
            if connection.autocommit:
                cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            else:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute("SET LOCAL DateStyle = 'ISO, YMD'")
            cursor.execute("SET LOCAL extra_float_digits = 1")  # shortest exact text of floats
            yield cursor
        except Exception as exc:  # PostgreSQL's errors, or a writer's: the archive's error
            raise archive_error(exc) from exc
        finally:
            if connection.info.transaction_status == psycopg.pq.TransactionStatus.ACTIVE:
                # a COPY still streams: its generator is held by a traceback, not closed;
                # closing the connection is the one sure way to stop it (a pool reconnects)
                connection.close()
            elif not connection.closed:
                connection.rollback()
