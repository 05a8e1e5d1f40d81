"""Bytes per published label row, and GROUP BY / equality on flag_boundary, before and after
issue 24.2 (float64 → float32, surrogate id gone, partition per version, flag index).

    .venv/bin/python bench/storage.py [--rows 1000000] [--reps 7]

Needs the test services. Builds, once, in the database ``rvscnn_bench_storage``, the label
table in both layouts with the same --rows rows (bench/tap.py's distributions): ``before`` as
migration 0007 left cnn_label (float8, id, unique (version, source), an index on the version),
``after`` as migration 0008 makes it (real, key (version, source), LIST partition, flag
index). Prints table + index bytes per row and median query times; docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("RVS_INSTANCE", "test")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "archive.settings")
DB = "rvscnn_bench_storage"
LABELS = ["teff", "logg", "m_h", "alpha_m", "fe_h"]
VALUES = LABELS + [f"e_{k}" for k in LABELS] + [f"sigma_{k}" for k in LABELS]


def _params() -> dict:
    import django
    from django.conf import settings

    django.setup()
    db = settings.DATABASES["default"]
    return {"host": db["HOST"], "port": db["PORT"], "user": db["USER"], "password": db["PASSWORD"]}


def _ddl(layout: str) -> list[str]:
    if layout == "before":
        cols = ",\n".join(f"{c} double precision NOT NULL" for c in VALUES)
        return [
            f"""CREATE TABLE before (id bigserial PRIMARY KEY, {cols},
              flag_boundary varchar(8) NOT NULL, model_version_id bigint NOT NULL,
              source_id bigint NOT NULL, UNIQUE (model_version_id, source_id))""",
            "CREATE INDEX before_version ON before (model_version_id)",
        ]
    cols = ",\n".join(f"{c} real NOT NULL" for c in VALUES)
    return [
        f"""CREATE TABLE after (model_version_id bigint NOT NULL, source_id bigint NOT NULL,
          {cols}, flag_boundary varchar(8) COLLATE "C" NOT NULL,
          PRIMARY KEY (model_version_id, source_id)) PARTITION BY LIST (model_version_id)""",
        "CREATE INDEX after_flag ON after (model_version_id, flag_boundary)",
        "CREATE TABLE after_v1 PARTITION OF after FOR VALUES IN (1)",
    ]


def build(conn, rows: int) -> None:
    for layout in ("before", "after"):
        exists = conn.execute("SELECT to_regclass(%s)", [layout]).fetchone()[0]
        if exists and conn.execute(f"SELECT count(*) FROM {layout}").fetchone()[0] == rows:
            continue
        print(f"building {layout} ({rows} rows) ...", file=sys.stderr)
        conn.execute(f"DROP TABLE IF EXISTS {layout}")
        for sql in _ddl(layout):
            conn.execute(sql)
        values = ", ".join(
            ["3500 + random() * 3500", "random() * 5", "random() * 2.5 - 2", "random() * 0.5",
             "random() * 2.5 - 2"]
            + ["random() * 0.1"] * 5 + ["random() * 0.2"] * 5
        )  # fmt: skip
        conn.execute(
            f"""INSERT INTO {layout} (model_version_id, source_id, {", ".join(VALUES)},
              flag_boundary)
            SELECT 1, 4295806720 + i::bigint * 1000003, {values},
              CASE WHEN random() < 0.6 THEN '00000000'
                   ELSE (floor(random() * 256))::int::bit(8)::text END
            FROM generate_series(1, {rows}) AS i"""
        )
        conn.execute(f"VACUUM ANALYZE {layout}")


def sizes(conn, layout: str, rows: int) -> dict[str, float]:
    parts = [layout] if layout == "before" else ["after_v1"]
    table = index = 0
    for p in parts:
        t, i = conn.execute("SELECT pg_table_size(%s), pg_indexes_size(%s)", [p, p]).fetchone()
        table, index = table + t, index + i
    return {"table": table / rows, "indexes": index / rows, "total": (table + index) / rows}


def timed(conn, sql: str, reps: int) -> float:
    conn.execute(sql).fetchall()  # warm
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        conn.execute(sql).fetchall()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main() -> None:
    import psycopg

    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=7)
    args = ap.parse_args()
    p = _params()
    with psycopg.connect(**p, dbname="postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB]).fetchone():
            conn.execute(f"CREATE DATABASE {DB}")
    with psycopg.connect(**p, dbname=DB, autocommit=True) as conn:
        build(conn, args.rows)
        for layout in ("before", "after"):
            s = sizes(conn, layout, args.rows)
            print(
                f"{layout:6s} bytes/row: table {s['table']:.1f}, indexes {s['indexes']:.1f}, "
                f"total {s['total']:.1f}"
            )
        where = "WHERE model_version_id = (SELECT 1)"  # as the view prunes: an InitPlan
        queries = {
            "GROUP BY flag_boundary": "SELECT flag_boundary, count(*) FROM {t} {w} GROUP BY 1",
            "flag_boundary = '00000000' count": (
                "SELECT count(*) FROM {t} {w} AND flag_boundary = '00000000'"
            ),
            "flag_boundary = '10000001' rows": (
                "SELECT source_id, teff FROM {t} {w} AND flag_boundary = '10000001'"
            ),
        }
        for label, sql in queries.items():
            before = timed(conn, sql.format(t="before", w=where), args.reps)
            after = timed(conn, sql.format(t="after", w=where), args.reps)
            print(f"{label:34s} before {before:7.1f} ms  after {after:7.1f} ms")


if __name__ == "__main__":
    main()
