"""Result writers against PostgreSQL's own COPY: rows/s, MB/s, first byte and peak memory.

    .venv/bin/python bench/writers.py [--rows 1000000] [--small 100000] [--repeat 1]

Needs the test services (``python3 scripts/services.py start test``). A 22-column table like the
published catalogue (source_id bigint; ra, dec, the five labels, five e_*, five sigma_* double
precision as cnn_label has them; phot_g_mean_mag real with 5 % NULLs; n_members smallint;
flag_boundary char(8); model_version text) is created once, with --rows rows, in the database
``rvscnn_bench_writers`` and read through the read-only role. Each format is written by
``archive.results.stream_result`` in a child process into /dev/null; its peak RSS is read from
wait4(), its timings (first byte, total) are its own. The limit, in the same run: psql's
``\\copy (the same query) TO '/dev/null' (FORMAT binary)`` and ``(FORMAT csv)``. Every format is
measured at --small rows and at --rows rows (peak memory must not grow with the rows).
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
DB = "rvscnn_bench_writers"
TABLE = "catalogue"
FORMATS = ["votable", "votable/td", "csv", "tsv", "fits", "parquet", "ecsv"]
LIMIT_OF = {  # which COPY a format is held against (issue 17's targets)
    "votable": "binary",
    "fits": "binary",
    "parquet": "binary",
    "votable/td": "csv",
    "csv": "csv",
    "tsv": "csv",
    "ecsv": "csv",
}
LABELS = ["teff", "logg", "m_h", "alpha_m", "fe_h"]

CREATE = f"""
CREATE TABLE {TABLE} AS SELECT
  (4295806720 + i::bigint * 1000003)::bigint AS source_id,
  random() * 360 AS ra, random() * 180 - 90 AS dec,
  3500 + random() * 3500 AS teff, random() * 5 AS logg, random() * 2.5 - 2 AS m_h,
  random() * 0.5 AS alpha_m, random() * 2.5 - 2 AS fe_h,
  random() * 100 AS e_teff, random() * 0.2 AS e_logg, random() * 0.1 AS e_m_h,
  random() * 0.05 AS e_alpha_m, random() * 0.1 AS e_fe_h,
  random() * 150 AS sigma_teff, random() * 0.3 AS sigma_logg, random() * 0.15 AS sigma_m_h,
  random() * 0.08 AS sigma_alpha_m, random() * 0.15 AS sigma_fe_h,
  (CASE WHEN random() < 0.05 THEN NULL ELSE (8 + random() * 9)::real END) AS phot_g_mean_mag,
  (1 + (i % 28))::smallint AS n_members,
  (((i::bigint * 2654435761) % 256)::int::bit(8)::text)::char(8) AS flag_boundary,
  'v2026.11-' || (i % 3)::text AS model_version
FROM generate_series(1, ROWS) AS i
"""


def fields():
    """The columns as the metadata registry would describe them."""
    from archive.metadata.fields import VOField

    out = [
        VOField("source_id", "long", ucd="meta.id;meta.main", description="Gaia DR3 source_id"),
        VOField("ra", "double", unit="deg", ucd="pos.eq.ra;meta.main", description="RA"),
        VOField("dec", "double", unit="deg", ucd="pos.eq.dec;meta.main", description="Dec"),
    ]
    for prefix, what in (("", "label"), ("e_", "model-to-model error"), ("sigma_", "σ")):
        out += [
            VOField(prefix + n, "double", unit="dex", description=f"{n} {what}") for n in LABELS
        ]
    return out + [
        VOField("phot_g_mean_mag", "float", unit="mag", ucd="phot.mag;em.opt.G"),
        VOField("n_members", "short", ucd="meta.number"),
        VOField("flag_boundary", "char", arraysize="8", ucd="meta.code.qual"),
        VOField("model_version", "char", arraysize="*", ucd="meta.version"),
    ]


def params(role: str = "default") -> dict:
    from archive import settings

    db = settings.DATABASES[role]
    return {"host": db["HOST"], "port": db["PORT"], "user": db["USER"], "password": db["PASSWORD"]}


def ensure_table(rows: int) -> None:
    """The bench table with ``rows`` rows (built once, kept between runs)."""
    import psycopg

    from archive import settings

    with psycopg.connect(**params(), dbname="postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB]).fetchone():
            conn.execute(f"CREATE DATABASE {DB}")
    with psycopg.connect(**params(), dbname=DB, autocommit=True) as conn:
        exists = conn.execute("SELECT to_regclass(%s)", [TABLE]).fetchone()[0]
        if exists and conn.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0] == rows:
            return
        print(f"creating {TABLE} with {rows} rows in {DB}", file=sys.stderr)
        conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
        conn.execute(CREATE.replace("ROWS", str(int(rows))))
        conn.execute(f"VACUUM ANALYZE {TABLE}")
        conn.execute(f"GRANT SELECT ON {TABLE} TO {settings.DATABASES['reader']['USER']}")


def query(rows: int) -> str:
    return f"SELECT * FROM {TABLE} LIMIT {rows}"


def child(fmt: str, rows: int) -> None:
    """Write one result into /dev/null; print its timings as JSON."""
    import psycopg

    from archive.results.stream import stream_result

    conn = psycopg.connect(**params("reader"), dbname=DB, autocommit=True)
    # a serving process is warm: modules imported, first-use set-ups done (pyarrow imports
    # pandas on its first write, 0.3 s) — one tiny result first, outside the timings
    b"".join(stream_result(conn, "SELECT 1 AS x", None, fmt))
    size, marks = 0, []
    with open(os.devnull, "wb") as sink:
        start = time.perf_counter()
        for piece in stream_result(conn, query(rows), fields(), fmt):
            if piece and len(marks) < 2:  # first byte; the second piece (FITS: table header)
                marks.append(time.perf_counter() - start)
            sink.write(piece)
            size += len(piece)
        seconds = time.perf_counter() - start
    first, second = marks[0], marks[-1]
    print(json.dumps({"seconds": seconds, "first": first, "second": second, "bytes": size}))


def run_child(fmt: str, rows: int) -> dict:
    return run_measured([sys.executable, __file__, "--child", fmt, "--rows", str(rows)], REPO)


def copy_limit(kind: str, rows: int) -> dict:
    """psql's \\copy of the same query into /dev/null: the rate PostgreSQL itself sends."""
    psql = shutil.which("psql") or "/usr/lib/postgresql/15/bin/psql"
    p = params("reader")
    env = {**os.environ, "PGPASSWORD": p["password"]}
    cmd = [
        psql, "-X", "-q", "-h", p["host"], "-p", str(p["port"]), "-U", p["user"], "-d", DB,
        "-c", f"\\copy ({query(rows)}) TO '/dev/null' (FORMAT {kind})",
    ]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True)
    seconds = time.perf_counter() - start
    # the size, counted as it streams by (holding it would raise this process's peak RSS, which
    # the children forked later inherit as their starting ru_maxrss)
    probe = subprocess.Popen(
        cmd[:-1] + [f"\\copy ({query(rows)}) TO STDOUT (FORMAT {kind})"],
        env=env,
        stdout=subprocess.PIPE,
    )
    size = sum(len(block) for block in iter(lambda: probe.stdout.read(1 << 20), b""))
    if probe.wait() != 0:
        raise SystemExit(f"psql COPY {kind} failed")
    return {"seconds": seconds, "first": None, "bytes": size, "rss_mib": None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement (median)")
    parser.add_argument("--formats", nargs="*", default=FORMATS)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.rows)
        return
    ensure_table(args.rows)

    def median(measure) -> dict:
        runs = [measure() for _ in range(args.repeat)]
        return {k: statistics.median([r[k] for r in runs]) if runs[0][k] is not None else None
                for k in runs[0]}  # fmt: skip

    print(f"{args.rows} rows, {len(fields())} columns; load average {os.getloadavg()[0]:.1f}")
    print(
        f"| writer | rows/s | MB/s | COPY limit, same runs: rows/s | of the limit | first byte "
        f"| peak RSS {args.small // 1000}k → {args.rows // 1000}k rows |"
    )
    print("|---|---|---|---|---|---|---|")
    for fmt in args.formats:
        # each run of the writer next to a run of its limit: the machine's load changes
        pairs = [(copy_limit(LIMIT_OF[fmt], args.rows), run_child(fmt, args.rows))
                 for _ in range(args.repeat)]  # fmt: skip
        small = median(lambda fmt=fmt: run_child(fmt, args.small))
        limit_rate = statistics.median(args.rows / lim["seconds"] for lim, _ in pairs)
        rate = statistics.median(args.rows / run["seconds"] for _, run in pairs)
        mb = statistics.median(run["bytes"] / run["seconds"] / 1e6 for _, run in pairs)
        first = statistics.median(run["first"] for _, run in pairs)
        second = statistics.median(run["second"] for _, run in pairs)
        rss = max(run["rss_mib"] for _, run in pairs)
        header = f" (table header {second:.2f} s)" if fmt == "fits" else ""
        print(
            f"| {fmt} | {rate:,.0f} | {mb:.0f} | {LIMIT_OF[fmt]} {limit_rate:,.0f} "
            f"| {100 * rate / limit_rate:.0f} % | {first:.3f} s{header} "
            f"| {small['rss_mib']:.0f} → {rss:.0f} MiB |",
            flush=True,
        )


if __name__ == "__main__":
    main()
