"""Ingest one product file: stream it, validate it, COPY it, upsert it, in one transaction.

For every file: chunks from the ``labeling.io`` reader are checked (required values, keys
repeated inside the file, sources unknown to gaia_source) and COPYed into a temporary staging
table; at the end one ``INSERT ... ON CONFLICT DO UPDATE ... WHERE IS DISTINCT FROM`` moves them
into the catalogue, counting inserted, updated and unchanged rows. The same file twice changes
nothing; a corrected file updates its rows.

Before any row is read, the file's header is checked against the product: a file without a
column the product requires (:attr:`Product.required_columns`) is refused naming them all; the
optional columns it lacks are reported. Every file loaded is recorded (:class:`IngestedFile`,
with the synthetic-sky marker of its header) in the same transaction.

Bad input raises :class:`labeling.io.ReadError` naming file, row and field, and the
transaction rolls back. RVS spectra go to the spectrum store before their references are
written; on failure the store is cut back to where it was (appends are serialised by an
advisory lock held until the store is cut back), and spectra whose content hash is unchanged
are not written again. With ``skip_bad_rows`` the offending rows alone are rejected and reported.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from django.db import connection, transaction
from tqdm import tqdm

from archive.catalogue.spectra import get_store, store_writer_lock
from archive.pgcopy import Column, copy_columns, out_of_range
from labeling.io import Chunk, ReadError, TableHeader, read_header
from labeling.io.formats import check_columns
from labeling.io.provenance import SYNTHETIC_SKY, is_synthetic_sky
from labeling.spectrum_store import SpectrumStore

from .models import IngestedFile
from .products import Product

STAGE = "ingest_stage"


@dataclass(frozen=True)
class Rejected:
    row: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row}, field {self.field}: {self.message}"


@dataclass
class IngestReport:
    """What one file's ingest did.

    Every data row of the file the ingest reaches is *read* and ends as exactly one of
    inserted, updated, unchanged or rejected, for every product: ``read`` is their sum (rows the
    reader could not parse and rows refused by validation alike). For the per-pixel RVS layout
    a "row" is a star.
    """

    path: str
    product: str
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    spectra_written: int = 0
    seconds: float = 0.0
    #: optional columns of the product the file does not have (left as they are in the table)
    absent_columns: list[str] = field(default_factory=list)
    #: the file's header carries the synthetic-sky marker
    synthetic_sky: bool = False
    #: for an update-only product: what an "updated" row is (see :func:`_update_meaning`)
    update_meaning: str = ""

    @property
    def read(self) -> int:
        return self.inserted + self.updated + self.unchanged + len(self.rejected)

    def summary(self) -> str:
        rate = self.read / self.seconds if self.seconds else 0.0
        inserted = "" if self.update_meaning else f"{self.inserted} inserted, "
        lines = [
            f"{self.path}: {self.read} read, {inserted}{self.updated} updated, "
            f"{self.unchanged} unchanged, {len(self.rejected)} rejected "
            f"({self.seconds:.2f} s, {rate:,.0f} rows/s)"
        ]
        if self.update_meaning:
            lines.append(f"  {self.update_meaning}")
        if self.absent_columns:
            lines.append(
                "  optional columns not in the file (left as they are in the table): "
                + ", ".join(self.absent_columns)
            )
        if self.synthetic_sky:
            lines.append("  the file is marked as synthetic-sky data (docs/synthetic-sky.md)")
        return "\n".join(lines)


def _update_meaning(product: Product) -> str:
    """An update-only product adds columns to rows another product loaded: it inserts nothing,
    so each row it changes is counted as updated, including on a fresh database."""
    if not product.update_only:
        return ""
    columns = ", ".join(product.data_columns)
    return (
        f"{product.name} inserts no rows: it sets {columns} of {product.table} rows already "
        f"loaded. updated = rows whose {columns} this file changed (on a fresh database, every "
        f"row it gives a value); unchanged = the same value already stored, or none in the file"
    )


# With skip_bad_rows, a row the reader cannot parse is left out and the file read again from
# the start (in a fresh transaction); beyond this many such rows the file is refused.
MAX_UNREADABLE_ROWS = 100


def ingest_file(
    product: Product,
    path: str | Path,
    *,
    skip_bad_rows: bool = False,
    progress: bool = False,
    store: SpectrumStore | None = None,
) -> IngestReport:
    """Load one file of ``product``; all or nothing (unless ``skip_bad_rows``)."""
    start = time.perf_counter()
    header = check_header(product, path)
    unreadable: list[Rejected] = []
    while True:
        try:
            report = _ingest_once(product, path, skip_bad_rows, progress, store, unreadable, header)
        except ReadError as err:
            # a row-level reader error (non-numeric value, wrong pixel count, ...) can be skipped
            # in CSV/ECSV files; the same row failing again means it could not be
            if (
                not skip_bad_rows
                or err.row is None
                or err.row in {r.row for r in unreadable}
                or len(unreadable) >= MAX_UNREADABLE_ROWS
            ):
                raise
            unreadable.append(Rejected(err.row, err.field or "", err.message))
            continue
        report.seconds = time.perf_counter() - start
        return report


def check_header(product: Product, path: str | Path) -> TableHeader:
    """The file's header, once it is known to have every column ``product`` requires."""
    header = read_header(path, product.member_prefixes)
    check_columns(str(path), header.columns, product.required_columns, _params(product, header))
    return header


def _params(product: Product, header: TableHeader) -> dict[str, object]:
    return {k: v for k, v in header.params.items() if k in product.param_columns}


def _absent(product: Product, header: TableHeader) -> list[str]:
    have = {c.lower() for c in header.columns} | set(_params(product, header))
    return [c for c in product.optional if c.lower() not in have]


def _ingest_once(
    product: Product,
    path: str | Path,
    skip_bad_rows: bool,
    progress: bool,
    store: SpectrumStore | None,
    unreadable: list[Rejected],
    header: TableHeader,
) -> IngestReport:
    report = IngestReport(
        str(path),
        product.name,
        rejected=list(unreadable),
        absent_columns=_absent(product, header),
        synthetic_sky=is_synthetic_sky(header.params),
        update_meaning=_update_meaning(product),
    )
    skip_rows = {r.row for r in unreadable}
    is_rvs = product.stores_spectra
    if is_rvs and store is None:
        store = get_store()
    # disable=None: a bar on a terminal only, not in logs
    bar = tqdm(
        desc=Path(path).name, unit=" rows", disable=None if progress else True, file=sys.stderr
    )
    try:
        with store_writer_lock() if is_rvs else nullcontext():
            mark = store.mark() if is_rvs else None
            try:
                _ingest_in_transaction(
                    product, path, skip_bad_rows, store, skip_rows, report, bar, header
                )
            except BaseException:
                if mark is not None:  # still under the lock: no other writer has appended
                    store.rollback(mark)
                raise
    finally:
        bar.close()
    return report


def _ingest_in_transaction(
    product: Product,
    path: str | Path,
    skip_bad_rows: bool,
    store: SpectrumStore | None,
    skip_rows: set[int],
    report: IngestReport,
    bar: tqdm,
    header: TableHeader,
) -> None:
    """Read, validate, stage, upsert and record the whole file in one transaction (the writer
    thread has finished with the store by the time this returns or raises)."""
    is_rvs = product.stores_spectra
    with (
        transaction.atomic(),
        connection.cursor() as cur,
        ThreadPoolExecutor(1, thread_name_prefix="spectrum-store") as writer,
    ):
        staged = False
        # A chunk's spectra are compressed and written to the store (one thread, in
        # order) while the reader parses the next chunk; its rows are COPYed once they
        # are written, so the database never refers to a spectrum not in the store.
        waiting: tuple[list[Column], Callable[[], list[Column]]] | None = None

        def stage(columns: list[Column]) -> None:
            nonlocal staged
            if not staged:
                _create_stage(cur, product, [c.name for c in columns])
                staged = True
            copy_columns(cur, STAGE, columns)

        for chunk in product.read(path, skip_rows=skip_rows):
            if waiting is not None:  # staged before validating: duplicates see its rows
                stage(waiting[0] + waiting[1]())
                waiting = None
            keep = _validate(cur, product, chunk, staged, report, skip_bad_rows)
            columns = _columns(product, chunk, keep)
            columns.append(Column("_row", "int8", chunk.rows[keep]))
            if is_rvs:
                waiting = (columns, _store_spectra(cur, store, chunk, keep, report, writer))
            else:
                stage(columns)
            bar.update(len(chunk))
        if waiting is not None:
            stage(waiting[0] + waiting[1]())
        if staged:
            _upsert(cur, product, report)
            # ON COMMIT DROP is not enough when the caller's transaction goes on
            cur.execute(f"DROP TABLE {STAGE}")
        report.rejected.sort(key=lambda r: r.row)
        _record(product, path, report, header)


def _record(product: Product, path: str | Path, report: IngestReport, header: TableHeader) -> None:
    marker = header.params.get(SYNTHETIC_SKY)
    IngestedFile.objects.create(
        product=product.name,
        path=str(Path(path).resolve()),
        size_bytes=Path(path).stat().st_size,
        synthetic_sky=report.synthetic_sky,
        provenance={SYNTHETIC_SKY: _jsonable(marker)} if report.synthetic_sky else {},
        read=report.read,
        inserted=report.inserted,
        updated=report.updated,
        unchanged=report.unchanged,
        rejected=len(report.rejected),
    )


def _jsonable(value: object) -> object:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value if isinstance(value, int | float | bool | type(None)) else str(value)


# --- validation ----------------------------------------------------------------------------


def _validate(
    cur, product: Product, chunk: Chunk, staged: bool, report: IngestReport, skip_bad_rows: bool
) -> np.ndarray:
    """Rows of the chunk to keep; bad rows raise, or are reported when skipping."""
    rows = chunk.rows
    bad: list[Rejected] = []
    for f in product.fields:
        if f.required and f.source in chunk.columns:
            for i in np.flatnonzero(chunk.missing(f.source)):
                message = "no Gaia source id" if f.column == "source_id" else "missing value"
                bad.append(Rejected(int(rows[i]), f.source, message))
    bad += _out_of_range(product, chunk)
    bad_mask = np.zeros(len(chunk), dtype=bool)
    for b in bad:
        bad_mask[rows == b.row] = True
    bad += _duplicates(cur, product, chunk, ~bad_mask, staged)
    if product.needs_known_source:
        bad += _unknown_sources(cur, chunk, ~bad_mask)
    if not bad:
        return np.ones(len(chunk), dtype=bool)
    bad.sort(key=lambda b: b.row)
    if not skip_bad_rows:
        first = bad[0]
        raise ReadError(chunk.path, first.message, row=first.row, field=first.field)
    report.rejected += bad
    return ~np.isin(rows, [b.row for b in bad])


def _out_of_range(product: Product, chunk: Chunk) -> list[Rejected]:
    """Integers too big for their column (COPY would otherwise store them wrapped)."""
    out = []
    for f in product.fields:
        if f.source not in chunk.columns:
            continue
        values = np.ma.getdata(chunk.columns[f.source])
        wrong = out_of_range(f.pgtype, values) & ~chunk.missing(f.source)
        out += [
            Rejected(int(r), f.source, f"{v} does not fit {f.pgtype}")
            for r, v in zip(chunk.rows[wrong], values[wrong].tolist(), strict=True)
        ]
    return out


def _key_values(product: Product, chunk: Chunk) -> list[np.ndarray]:
    return [chunk.columns[product.field(k).source] for k in product.key]


def _duplicates(
    cur, product: Product, chunk: Chunk, ok: np.ndarray, staged: bool
) -> list[Rejected]:
    rows = chunk.rows[ok]
    keys = list(zip(*(v[ok].tolist() for v in _key_values(product, chunk)), strict=True))
    first_row: dict[tuple, int] = {}
    if staged and keys:
        cols = ", ".join(product.key)
        arrays = ", ".join(f"%s::{product.field(k).pgtype}[]" for k in product.key)
        cur.execute(
            f"SELECT {cols}, min(_row) FROM {STAGE} WHERE ({cols}) IN "
            f"(SELECT * FROM unnest({arrays})) GROUP BY {cols}",
            [list(col) for col in zip(*keys, strict=True)],
        )
        first_row = {tuple(r[:-1]): r[-1] for r in cur.fetchall()}
    out = []
    name = product.field(product.key[0]).source
    for row, key in zip(rows.tolist(), keys, strict=True):
        if key in first_row:
            what = key[0] if len(key) == 1 else key
            out.append(Rejected(row, name, f"duplicate {what} (first at row {first_row[key]})"))
        else:
            first_row[key] = row
    return out


def _unknown_sources(cur, chunk: Chunk, ok: np.ndarray) -> list[Rejected]:
    ids = chunk.columns["source_id"][ok]
    cur.execute(
        "SELECT id FROM unnest(%s::bigint[]) AS id "
        "WHERE NOT EXISTS (SELECT 1 FROM gaia_source g WHERE g.source_id = id)",
        [ids.tolist()],
    )
    unknown = np.array([r[0] for r in cur.fetchall()], dtype=np.int64)
    if unknown.size == 0:
        return []
    rows = chunk.rows[ok]
    hit = np.isin(ids, unknown)
    return [
        Rejected(int(r), "source_id", f"source_id {int(s)} is not in gaia_source")
        for r, s in zip(rows[hit], ids[hit], strict=True)
    ]


# --- staging and upsert --------------------------------------------------------------------


def _columns(product: Product, chunk: Chunk, keep: np.ndarray) -> list[Column]:
    out = []
    for f in product.fields:
        if f.source not in chunk.columns:
            continue  # optional column this file does not have: left as it is in the table
        values = chunk.columns[f.source][keep]
        if f.pgtype == "text":
            # empty text, not NULL: the catalogue's text columns default to ''
            out.append(
                Column(
                    f.column, "text", values.astype(object), null=np.zeros(len(values), dtype=bool)
                )
            )
        else:
            null = chunk.missing(f.source)[keep]
            out.append(Column(f.column, f.pgtype, values, null=null))
    return out


def _store_spectra(
    cur,
    store: SpectrumStore,
    chunk: Chunk,
    keep: np.ndarray,
    report: IngestReport,
    writer: ThreadPoolExecutor,
) -> Callable[[], list[Column]]:
    """Queue new or changed spectra for the store on ``writer``.

    Returns a function that waits for the write and gives the reference columns.
    """
    ids = chunk.columns["source_id"][keep]
    flux = np.ascontiguousarray(chunk.columns["flux"][keep], dtype=np.float32)
    error = np.ascontiguousarray(chunk.columns["flux_error"][keep], dtype=np.float32)
    hashes = np.array(
        [
            hashlib.blake2b(f.tobytes() + e.tobytes(), digest_size=16).hexdigest()
            for f, e in zip(flux, error, strict=True)
        ],
        dtype=object,
    )
    cur.execute(
        "SELECT source_id, content_hash, store_array, store_row FROM rvs_spectrum "
        "WHERE source_id = ANY(%s)",
        [ids.tolist()],
    )
    existing = {r[0]: r[1:] for r in cur.fetchall()}
    segment = np.empty(len(ids), dtype=object)
    row = np.empty(len(ids), dtype=np.int64)
    changed = np.ones(len(ids), dtype=bool)
    for i, (sid, h) in enumerate(zip(ids.tolist(), hashes, strict=True)):
        old = existing.get(sid)
        if old is not None and old[0] == h:
            changed[i] = False
            segment[i], row[i] = old[1], old[2]
    n_changed = int(changed.sum())
    appended = writer.submit(store.append, flux[changed], error[changed]) if n_changed else None
    n_nan = np.isnan(flux).sum(axis=1).astype(np.int16)

    def columns() -> list[Column]:
        if appended is not None:
            name, first = appended.result()
            segment[changed] = name
            row[changed] = np.arange(first, first + n_changed)
            report.spectra_written += n_changed
        return [
            Column("store_array", "text", segment, null=np.zeros(len(ids), dtype=bool)),
            Column("store_row", "int8", row),
            Column("n_nan_pixels", "int2", n_nan),
            Column("content_hash", "text", hashes, null=np.zeros(len(ids), dtype=bool)),
        ]

    return columns


def _create_stage(cur, product: Product, names: list[str]) -> None:
    table_cols = [n for n in names if n != "_row"]
    cur.execute(
        f"CREATE TEMP TABLE {STAGE} ON COMMIT DROP AS "
        f"SELECT {', '.join(table_cols)}, 0::bigint AS _row FROM {product.table} WITH NO DATA"
    )
    cur.execute(f"CREATE INDEX ON {STAGE} ({', '.join(product.key)})")


def _upsert(cur, product: Product, report: IngestReport) -> None:
    cur.execute(f"SELECT * FROM {STAGE} LIMIT 0")
    cols = [d.name for d in cur.description if d.name != "_row"]
    data = [c for c in cols if c not in product.key]
    cur.execute(f"SELECT count(*) FROM {STAGE}")
    staged = cur.fetchone()[0]
    t_cols = ", ".join(f"t.{c}" for c in data)
    new_cols = ", ".join(f"s.{c}" for c in data)
    if product.update_only:
        join = " AND ".join(f"t.{k} = s.{k}" for k in product.key)
        cur.execute(
            f"WITH up AS (UPDATE {product.table} t SET "
            + ", ".join(f"{c} = s.{c}" for c in data)
            + f" FROM {STAGE} s WHERE {join} AND ROW({t_cols}) IS DISTINCT FROM ROW({new_cols})"
            " RETURNING 1) SELECT 0, count(*) FROM up"
        )
    else:
        excluded = ", ".join(f"EXCLUDED.{c}" for c in data)
        cur.execute(
            f"WITH up AS (INSERT INTO {product.table} AS t ({', '.join(cols)}) "
            f"SELECT {', '.join(cols)} FROM {STAGE} "
            f"ON CONFLICT ({', '.join(product.key)}) DO UPDATE SET "
            + ", ".join(f"{c} = EXCLUDED.{c}" for c in data)
            + f" WHERE ROW({t_cols}) IS DISTINCT FROM ROW({excluded})"
            " RETURNING (xmax = 0) AS inserted) "
            "SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up"
        )
    report.inserted, report.updated = cur.fetchone()
    report.unchanged = staged - report.inserted - report.updated
