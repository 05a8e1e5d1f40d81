"""Bulk export speed and memory: a version's catalogue to gzipped CSV, FITS and Parquet files.

    .venv/bin/python bench/exports.py [--rows 1000000] [--small 100000] [--repeat 1]

Needs the test services (``python3 scripts/services.py start test``). A database
``rvscnn_bench_exports`` is migrated once and filled with --rows stars spread over the sky
(source_ids carrying level-12 HEALPix indices, as Gaia's do) labelled by a ready version
``bench-<rows>``, and --small of them by ``bench-<small>``. Each format's export
(``archive.exports.build.build_export``, one format, 500 000 rows per file) runs in a child
process; its peak RSS is read from wait4(), its time is the build's own (the query, the writers,
gzip, the hashing and fsync of every file). The limit, in the same run: psql's ``\\copy (the
export's query over all rows) TO '/dev/null' (FORMAT binary)`` for FITS and Parquet, ``(FORMAT
csv)`` for CSV.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bench.timing import run_measured  # noqa: E402

os.environ.setdefault("RVS_INSTANCE", "test")
DB = "rvscnn_bench_exports"
OUT = REPO / "var" / "bench" / "exports"
FORMATS = ["csv", "fits", "parquet"]
LIMIT_OF = {"csv": "csv", "fits": "binary", "parquet": "binary"}
LABELS = ["teff", "logg", "m_h", "alpha_m", "fe_h"]


def env() -> dict[str, str]:
    return {
        **os.environ,
        "RVS_INSTANCE": "test",
        "RVS_DB_NAME": DB,
        "RVS_EXPORTS_DIR": str(OUT),
        "RVS_EXPORT_ON_PUBLISH": "0",
        "DJANGO_SETTINGS_MODULE": "archive.settings",
    }


def params(alias: str = "default") -> dict:
    from archive import settings

    db = settings.DATABASES[alias]
    return {"host": db["HOST"], "port": db["PORT"], "user": db["USER"], "password": db["PASSWORD"]}


def ensure_database(rows: int, small: int) -> None:
    import psycopg

    with psycopg.connect(**params(), dbname="postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB]).fetchone()
        if not exists:
            conn.execute(f"CREATE DATABASE {DB}")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=REPO, env=env(), check=True)
    with psycopg.connect(**params(), dbname=DB, autocommit=True) as conn:
        n = conn.execute("SELECT count(*) FROM gaia_source").fetchone()[0]
        if n != rows:
            print(f"filling {DB} with {rows} stars", file=sys.stderr)
            conn.execute("TRUNCATE gaia_source, model_version CASCADE")
            # level-12 pixel (of 12 * 4**12) in the top bits, as in a Gaia DR3 source_id
            conn.execute(
                "INSERT INTO gaia_source (source_id, ra, dec) SELECT "
                "((i::bigint * 2654435761) %% 201326592) * 34359738368 + i, "
                "random() * 360, degrees(asin(2 * random() - 1)) "
                "FROM generate_series(1, %s) AS i",
                [rows],
            )
        for name, count in ((f"bench-{rows}", rows), (f"bench-{small}", small)):
            if conn.execute("SELECT 1 FROM model_version WHERE name = %s", [name]).fetchone():
                continue
            vid = conn.execute(
                "INSERT INTO model_version (name, created_at, status, inputs, n_splits, "
                "n_members, config, path, data_hash, code_version, framework_versions, "
                "is_published) VALUES (%s, now(), 'labelling', 'hybrid', 7, 4, '{}', '', '', "
                "'', '{}', false) RETURNING id",
                [name],
            ).fetchone()[0]
            values = ", ".join([f"{3500 if k == 'teff' else 0} + random() * 2" for k in LABELS] * 3)
            names = ", ".join(LABELS + [f"e_{k}" for k in LABELS] + [f"sigma_{k}" for k in LABELS])
            conn.execute(
                f"INSERT INTO cnn_label (model_version_id, source_id, {names}, flag_boundary) "
                f"SELECT %s, source_id, {values}, "
                "CASE WHEN random() < 0.1 THEN '10000000' ELSE '00000000' END "
                "FROM (SELECT source_id FROM gaia_source ORDER BY source_id LIMIT %s) s",
                [vid, count],
            )
            conn.execute("UPDATE model_version SET status = 'ready' WHERE id = %s", [vid])
        conn.execute("VACUUM ANALYZE gaia_source")
        conn.execute("VACUUM ANALYZE cnn_label")


def child(fmt: str, version: str) -> None:
    import django

    django.setup()
    from archive.catalogue.models import ModelVersion
    from archive.exports.build import build_export
    from archive.exports.store import export_dir
    from archive.tap.service import open_reader

    the_version = ModelVersion.objects.get(name=version)
    conn = open_reader()
    start = time.perf_counter()
    manifest = build_export(the_version, conn, formats=(fmt,), with_hats=False)
    seconds = time.perf_counter() - start
    size = sum(f.size for f in manifest.files)
    raw = None
    if fmt == "csv":  # what the gzip stream took in
        import gzip

        raw = 0
        for f in manifest.files:
            with gzip.open(export_dir(version) / f.path) as g:
                raw += sum(len(b) for b in iter(lambda g=g: g.read(1 << 20), b""))
    print(json.dumps({"seconds": seconds, "bytes": size, "raw": raw, "files": len(manifest.files)}))


def run_child(fmt: str, version: str) -> dict:
    return run_measured(
        [sys.executable, __file__, "--child", fmt, "--version", version], REPO, env()
    )


def export_query(version: str) -> str:
    """The query the export runs, over all rows (one range from 0 to the largest source_id)."""
    import django
    import psycopg

    os.environ.update(env())
    django.setup()
    from archive.exports.build import select_sql

    with psycopg.connect(**params("reader"), dbname=DB) as conn:
        return select_sql(conn, version, 0, 2**63 - 1)


def copy_limit(kind: str, query: str) -> float:
    psql = shutil.which("psql") or "/usr/lib/postgresql/15/bin/psql"
    p = params("reader")
    cmd = [
        psql, "-X", "-q", "-h", p["host"], "-p", str(p["port"]), "-U", p["user"], "-d", DB,
        "-c", f"\\copy ({query}) TO '/dev/null' (FORMAT {kind})",
    ]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(cmd, env={**os.environ, "PGPASSWORD": p["password"]}, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--formats", nargs="*", default=FORMATS)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--version", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.version)
        return
    ensure_database(args.rows, args.small)
    query = export_query(f"bench-{args.rows}")
    print(
        "| format | rows | seconds | rows/s | MB/s written | files | its limit: COPY, s "
        "| of the limit | peak RSS small → full |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for fmt in args.formats:
        small = run_child(fmt, f"bench-{args.small}")
        runs, limits = [], []
        for _ in range(args.repeat):
            runs.append(run_child(fmt, f"bench-{args.rows}"))
            limits.append(copy_limit(LIMIT_OF[fmt], query))
        seconds = statistics.median(r["seconds"] for r in runs)
        limit = statistics.median(limits)
        r = runs[0]
        rate = f"{r['bytes'] / seconds / 1e6:.0f}"
        if r["raw"]:
            rate += f" ({r['raw'] / seconds / 1e6:.0f} before gzip)"
        print(
            f"| {fmt} | {args.rows} | {seconds:.1f} | {args.rows / seconds:,.0f} | {rate} "
            f"| {r['files']} | COPY {LIMIT_OF[fmt]} {limit:.1f} | {limit / seconds:.0%} "
            f"| {small['rss_mib']:.0f} → {r['rss_mib']:.0f} MiB |",
            flush=True,
        )


if __name__ == "__main__":
    main()
