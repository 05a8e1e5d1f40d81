"""Writing the export of a model version: each HEALPix range's rows streamed through the result
writers (archive.results) straight to disk — gzipped CSV, FITS, Parquet — hashed as they are
written, then the README, COLUMNS.csv, MD5SUM and the manifest, and one rename makes it public.

Memory stays at the writers' few batches whatever the size; a build that stops midway leaves a
hidden staging directory that the next build of the version removes first.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import queue
import shutil
import threading
import uuid
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from django.conf import settings
from django.db import connection as django_connection
from psycopg import sql as pgsql

from archive.citation.infos import result_infos
from archive.errors import NotFound
from archive.metadata.fields import VOField
from archive.metadata.published import PAPER, registry
from archive.results.columns import fixed_length, is_text
from archive.results.formats import resolve
from archive.results.query import Sizes
from archive.results.stream import stream_result

from . import hats, partition, store

DEFAULT_FORMATS = ("csv", "fits", "parquet")
ROWS_PER_FILE = 500_000
QUEUE = 4
GZIP_LEVEL = 1  # 42 MB/s in, files 15 % larger than at 6 (13 MB/s): docs/benchmarks.md


@dataclass(frozen=True)
class ExportFormat:
    name: str  # the result format
    directory: str
    suffix: str
    gzip: bool = False


FORMATS = {
    "csv": ExportFormat("csv", "csv", ".csv.gz", gzip=True),
    "fits": ExportFormat("fits", "fits", ".fits"),
    "parquet": ExportFormat("parquet", "parquet", ".parquet"),
}


def fields() -> list[VOField]:
    """The columns of an export: those of the published catalogue table rvs_cnn."""
    return registry().fields(f"{settings.PUBLISHED_SCHEMA}.rvs_cnn")


def select_sql(conn: psycopg.Connection, version: str, first: int, last: int) -> str:
    """rvs_cnn's columns for any ready version (rvs_cnn_versions joined to gaia_source for the
    position) over one source_id range, in source_id order."""
    schema = settings.PUBLISHED_SCHEMA
    cols = []
    for f in fields():
        alias = "g" if f.name in ("ra", "dec") else "l"
        cols.append(pgsql.SQL("{}.{}").format(pgsql.Identifier(alias), pgsql.Identifier(f.name)))
    query = pgsql.SQL(
        "SELECT {cols} FROM {schema}.rvs_cnn_versions l "
        "JOIN {schema}.gaia_source g ON g.source_id = l.source_id "
        "WHERE l.model_version = {version} AND l.source_id BETWEEN {first} AND {last} "
        "ORDER BY l.source_id"
    ).format(
        cols=pgsql.SQL(", ").join(cols),
        schema=pgsql.Identifier(schema),
        version=pgsql.Literal(version),
        first=pgsql.Literal(first),
        last=pgsql.Literal(last),
    )
    return query.as_string(conn)


def file_sizes(cols: Sequence[VOField], version: str, rows: int) -> Sizes:
    """What a FITS file's header needs, known without asking the database again (the query
    would run twice: at 10^6 rows that doubled the FITS export): its rows from the partition
    plan, the version's name and fixed-width text, and no NULL in an integer column (the label
    table's columns are NOT NULL). The writer checks the rows it got against it."""
    widths = {}
    for i, f in enumerate(cols):
        if f.name == "model_version":
            widths[i] = len(version.encode())
        elif is_text(f):
            widths[i] = fixed_length(f)
            if widths[i] is None:
                raise ValueError(f"export column {f.name}: a text column of unknown width")
    ints = ("unsignedByte", "short", "int", "long")
    ranges = {i: (None, None, 0) for i, f in enumerate(cols) if f.datatype in ints}
    return Sizes(rows, widths, ranges)


def pixel_groups(version_id: int, rows_per_file: int) -> list[tuple[int, int, int]]:
    """(first pixel, last pixel, rows) of each file of a version's labels, grouped in the
    database by :mod:`.partition`'s rule: one row per file leaves the server, not one per
    pixel (a million stars fill half a million level-8 pixels)."""
    with django_connection.cursor() as cur:
        cur.execute(
            "WITH p AS (SELECT source_id >> %s AS pixel, count(*) AS n FROM cnn_label "
            "WHERE model_version_id = %s GROUP BY 1), "
            "c AS (SELECT pixel, n, sum(n) OVER (ORDER BY pixel) - n AS before FROM p) "
            "SELECT before::bigint / %s AS file, min(pixel), max(pixel), sum(n) FROM c "
            "GROUP BY 1 ORDER BY 1",
            [partition.SHIFT, version_id, rows_per_file],
        )
        return [(int(a), int(b), int(n)) for _, a, b, n in cur.fetchall()]


class _HashingFile:
    """Bytes to a file, MD5 and size counted on the way (gzip-compressed when asked)."""

    def __init__(self, path: Path, gzip: bool) -> None:
        self.out = path.open("wb")
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.size = 0
        # wbits 31: a gzip member (header with no name and mtime 0: the same rows, same bytes)
        self.zip = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31) if gzip else None

    def _put(self, data: bytes) -> None:
        if data:
            self.out.write(data)
            self.md5.update(data)
            self.size += len(data)

    def write(self, data: bytes) -> None:
        self._put(self.zip.compress(data) if self.zip else data)

    def close(self) -> None:
        if self.zip:
            self._put(self.zip.flush())
        self.out.flush()
        os.fsync(self.out.fileno())
        self.out.close()


_DONE = object()


def write_stream(blocks: Iterator[bytes], path: Path, gzip: bool) -> tuple[int, str]:
    """Write ``blocks`` to ``path``; (bytes on disk, MD5 hex).

    The blocks are compressed, hashed and written by a second thread while this one fetches
    and formats the next: zlib, hashlib and file writes release the GIL, so the two use two
    cores. At most QUEUE blocks (the writers' ~4 MB batches) wait between them.
    """
    out = _HashingFile(path, gzip)
    pending: queue.Queue = queue.Queue(maxsize=QUEUE)
    failed: list[BaseException] = []

    def drain() -> None:
        while (block := pending.get()) is not _DONE:
            if not failed:
                try:
                    out.write(block)
                except BaseException as exc:  # handed to the producer, which re-raises it
                    failed.append(exc)

    writer = threading.Thread(target=drain, name=f"export-writer {path.name}", daemon=True)
    writer.start()
    try:
        for block in blocks:
            if failed:
                break
            pending.put(block)
    finally:
        pending.put(_DONE)
        writer.join()
        out.close()
    if failed:
        raise failed[0]
    return out.size, out.md5.hexdigest()


def build_export(
    version,
    conn: psycopg.Connection,
    *,
    formats: Sequence[str] = DEFAULT_FORMATS,
    rows_per_file: int = ROWS_PER_FILE,
    progress: Callable[[str], None] | None = None,
    with_hats: bool | None = None,
) -> store.Manifest:
    """Write the export of ``version`` (a ready ModelVersion) and make it public; ``conn`` is a
    psycopg connection of the read-only role in autocommit. Returns its manifest. A HATS
    catalogue is built from the Parquet files when ``with_hats`` (default: when the ``hats``
    extra is installed and Parquet is among the formats)."""
    if with_hats is None:
        with_hats = "parquet" in formats and hats.available()
    for stale in store.stale_builds(version.name):
        shutil.rmtree(stale, ignore_errors=True)
    staging = store.staging_dir(version.name, uuid.uuid4().hex[:12])
    staging.mkdir(parents=True)
    try:
        manifest = _write(version, conn, staging, formats, rows_per_file, progress)
        if with_hats:
            manifest = _write_hats(staging, manifest)
        _publish_if_still_there(version, staging)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, OSError) and not _exists(version):
            # the deletion's signal removed the staging directory under the writers
            raise _deleted(version) from exc
        raise
    return manifest


def _exists(version) -> bool:
    from archive.catalogue.models import ModelVersion

    return ModelVersion.objects.filter(pk=version.pk).exists()


def _deleted(version) -> NotFound:
    return NotFound(f"version {version.name} was deleted while its export was built")


def _write(version, conn, staging: Path, formats, rows_per_file: int, progress):
    cols = fields()
    groups = partition.cover(pixel_groups(version.pk, rows_per_file))
    files = []
    for name in formats:
        fmt = FORMATS[name]
        (staging / fmt.directory).mkdir()
        writer = resolve(fmt.name)
        for group in groups:
            rel = f"{fmt.directory}/RvsCnn_{group.stem}{fmt.suffix}"
            first, last = group.source_ids
            sql = select_sql(conn, version.name, first, last)
            infos = result_infos("", version)
            sizes = file_sizes(cols, version.name, group.rows)
            blocks = stream_result(conn, sql, cols, writer, infos=infos, sizes=sizes)
            size, md5 = write_stream(blocks, staging / rel, fmt.gzip)
            files.append(
                store.ExportFile(rel, name, group.first, group.last, group.rows, size, md5)
            )
            if progress:
                progress(rel)
    manifest = store.Manifest(
        version=version.name,
        created=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        rows=sum(g.rows for g in groups),
        files=tuple(files),
    )
    extra = {
        "README.txt": readme(version, manifest, formats).encode(),
        "COLUMNS.csv": columns_csv(cols).encode(),
    }
    for name, data in extra.items():
        (staging / name).write_bytes(data)
    sums = [(f.md5, f.path) for f in files]
    sums += [(hashlib.md5(d, usedforsecurity=False).hexdigest(), n) for n, d in extra.items()]
    (staging / "MD5SUM").write_text("".join(f"{m}  {p}\n" for m, p in sorted(sums, key=_by_path)))
    (staging / store.MANIFEST).write_text(manifest.to_json())
    return manifest


def _write_hats(staging: Path, manifest: store.Manifest) -> store.Manifest:
    """The HATS catalogue beside the files; the manifest (rewritten) names its directory."""
    parquet = [staging / f.path for f in manifest.files if f.format == "parquet"]
    if not parquet:
        raise ValueError("a HATS catalogue is built from the Parquet files: export Parquet too")
    tmp = staging / ".hats-tmp"
    try:
        built = hats.write_hats(parquet, staging, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    manifest = replace(manifest, hats=built.relative_to(staging).as_posix())
    (staging / store.MANIFEST).write_text(manifest.to_json())
    return manifest


def _by_path(item: tuple[str, str]) -> str:
    return item[1]


def _publish_if_still_there(version, staging: Path) -> None:
    """Publish while holding the version's row: a version deleted during the build is not
    published (its deletion's signal has already removed the export), and one deleted later
    waits for the rename, after which its signal removes what was published."""
    from django.db import transaction

    from archive.catalogue.models import ModelVersion

    with transaction.atomic():
        if not ModelVersion.objects.select_for_update().filter(pk=version.pk).exists():
            raise _deleted(version)
        _publish(staging, store.export_dir(version.name))


def _publish(staging: Path, final: Path) -> None:
    """Swap the new export in with one rename; a previous export of the version goes after."""
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{uuid.uuid4().hex[:8]}")
        final.rename(old)
    staging.rename(final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def columns_csv(cols: Sequence[VOField]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["name", "datatype", "arraysize", "unit", "ucd", "description"])
    for f in cols:
        w.writerow([f.name, f.datatype, f.arraysize or "", f.unit, f.ucd, f.description])
    return out.getvalue()


def readme(version, manifest: store.Manifest, formats: Sequence[str]) -> str:
    per_format = len(manifest.files) // max(len(formats), 1)
    lines = [
        f"RVS-CNN catalogue, model version {version.name}",
        "=" * 60,
        "",
        "Stellar parameters (Teff, log g, [M/H], [alpha/M], [Fe/H]) of Gaia DR3 RVS stars from",
        f"the hybrid CNN of {PAPER}, model version {version.name}",
        f"({version.inputs}, {version.n_splits} splits x {version.n_members} members).",
        f"Rows: {manifest.rows}. Written {manifest.created}.",
        "",
        "Files",
        "-----",
        f"The catalogue is split into {per_format} files per format by HEALPix level 8 (nested),",
        "as Gaia's bulk files are: a Gaia DR3 source_id holds its level-12 HEALPix index in",
        "source_id // 2**35, so the level-8 pixel is source_id // 2**43. RvsCnn_AAAAAA-BBBBBB",
        "holds the sources of pixels AAAAAA to BBBBBB (inclusive), in source_id order; together",
        "the files cover the whole sky once.",
        "",
        *(
            f"  {FORMATS[f].directory}/*{FORMATS[f].suffix}"
            + {
                "csv": "   gzipped CSV (header line; empty field = null)",
                "fits": "      FITS binary tables (TUNIT, TUCD, TCOMM per column)",
                "parquet": "   Apache Parquet",
            }[f]
            for f in formats
        ),
        "  COLUMNS.csv        every column: datatype, unit, UCD, description",
        "  MD5SUM             checksums: run `md5sum -c MD5SUM` here",
        "  manifest.json      files, pixel ranges, rows and sizes, machine-readable",
        "",
        "Reading: astropy.table.Table.read(path) reads every file (CSV: format='ascii.csv';",
        "Parquet with its units and UCDs: format='parquet.votable', the IVOA VOTable-Parquet",
        "metadata); pandas.read_csv and pandas.read_parquet too.",
        "",
        "Columns",
        "-------",
        *(f"  {f.name:16s} {f.unit or '-':14s} {f.description}" for f in fields()),
        "",
    ]
    return "\n".join(lines)
