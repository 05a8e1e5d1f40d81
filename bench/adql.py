"""ADQL translators compared on the ADQL 2.1 feature corpus: queryparser-python3 and ours.

    .venv/bin/python bench/adql.py [--repeat 20] [--qp-repeat 5]

For each feature of tests/archive/tap/adql_corpus.py (one query per ADQL 2.1 feature, with the
rows it must return), each translator's SQL is run on PostgreSQL + pg_sphere + q3c: a feature
passes when the rows are right. Prints pass/fail (and why) and the median translation time of
each, then the totals. Needs the test services (``python3 scripts/services.py start test``);
the eight-star catalogue lives in a scratch database ``rvscnn_bench_adql``, dropped at the end.
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
DB = "rvscnn_bench_adql"
SCHEMA = "gaiadr3_rvs_cnn"
UNITS = {"ra": "deg", "dec": "deg", "teff": "K", "parallax": "mas"}


def params(dbname: str) -> dict:
    from archive import settings

    db = settings.DATABASES["default"]
    return dict(
        host=db["HOST"], port=db["PORT"], user=db["USER"], password=db["PASSWORD"], dbname=dbname
    )


def create_catalogue(stars: dict, version: str):
    """A scratch database with the corpus's three tables as plain, indexed tables."""
    import psycopg

    with psycopg.connect(**params("postgres"), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DB}")
        admin.execute(f"CREATE DATABASE {DB} TEMPLATE template1")  # has pg_sphere and q3c
    conn = psycopg.connect(**params(DB), autocommit=True)
    conn.execute(f"""
        CREATE SCHEMA {SCHEMA};
        CREATE TABLE {SCHEMA}.gaia_source (source_id bigint PRIMARY KEY, ra float8, dec float8,
            parallax float8, parallax_error float8);
        CREATE TABLE {SCHEMA}.rvs_cnn (source_id bigint PRIMARY KEY, ra float8, dec float8,
            teff float8, flag_boundary char(8));
        CREATE TABLE {SCHEMA}.rvs_cnn_versions (model_version text, source_id bigint,
            teff float8);
    """)
    with conn.cursor() as cur:
        for sid, (ra, dec, teff, flag) in stars.items():
            cur.execute(
                f"INSERT INTO {SCHEMA}.gaia_source VALUES (%s, %s, %s, %s, NULL)",
                (sid, ra, dec, sid / 10),
            )
            cur.execute(
                f"INSERT INTO {SCHEMA}.rvs_cnn VALUES (%s, %s, %s, %s, %s)",
                (sid, ra, dec, teff, flag),
            )
            cur.execute(
                f"INSERT INTO {SCHEMA}.rvs_cnn_versions VALUES (%s, %s, %s)", (version, sid, teff)
            )
    for table in ("gaia_source", "rvs_cnn"):
        conn.execute(f"CREATE INDEX ON {SCHEMA}.{table} (q3c_ang2ipix(ra, dec))")
        conn.execute(
            f"CREATE INDEX ON {SCHEMA}.{table} USING gist (spoint(radians(ra), radians(dec)))"
        )
    conn.execute("SET statement_timeout = '5s'")
    return conn


def catalogue(conn):
    from archive.tap.adql import ColumnInfo, TableCatalog, TableInfo

    types = {"bigint": "long", "double precision": "double"}
    tables: dict[str, dict] = {}
    for table, column, dtype in conn.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = %s ORDER BY table_name, ordinal_position",
        [SCHEMA],
    ):
        tables.setdefault(table, {})[column] = ColumnInfo(
            column, types.get(dtype, "char"), UNITS.get(column, "")
        )
    return TableCatalog(tuple(TableInfo(f"{SCHEMA}.{t}", c) for t, c in tables.items()))


def queryparser(adql: str, _catalogue) -> str:
    from queryparser.adql import ADQLQueryTranslator

    return ADQLQueryTranslator(adql).to_postgresql()


def ours(adql: str, cat) -> str:
    from archive.tap.adql import translate

    return translate(adql, cat).sql


def measure(translator, adql: str, cat, repeat: int) -> tuple[str | None, float, str]:
    """(SQL or None, median seconds, error text)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        try:
            sql = translator(adql, cat)
        except Exception as exc:  # a foreign translator's failure is a result, not a crash
            return None, float("nan"), f"{type(exc).__name__}: {exc}".splitlines()[0]
        times.append(time.perf_counter() - start)
    return sql, statistics.median(times), ""


def verdict(conn, sql: str | None, expected, error: str, same, rows) -> str:
    import psycopg

    if sql is None:
        return "refused (" + error[:60] + ")"
    try:
        got = rows(conn, sql)
    except psycopg.Error as exc:
        return "SQL fails (" + str(exc).splitlines()[0][:60] + ")"
    return "pass" if same(got, expected) else f"wrong rows ({str(got)[:50]})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=20, help="translations per query (ours)")
    ap.add_argument("--qp-repeat", type=int, default=5, help="translations per query (qp)")
    args = ap.parse_args()
    from tests.archive.tap.adql_corpus import CORPUS, STARS, VERSION, rows, same

    conn = create_catalogue(STARS, VERSION)
    cat = catalogue(conn)
    ours("SELECT 1 FROM gaiadr3_rvs_cnn.rvs_cnn", cat)  # imports, not translation, out of timing
    queryparser("SELECT 1 FROM gaiadr3_rvs_cnn.rvs_cnn", cat)
    totals = {"queryparser": [0, []], "ours": [0, []]}
    print(
        f"{'feature':34} {'queryparser-python3':44} {'ms':>7}   {'archive.tap.adql':30} {'ms':>6}"
    )
    try:
        for feature, adql, expected in CORPUS:
            line = [f"{feature[:34]:34}"]
            for name, fn, n, width in (
                ("queryparser", queryparser, args.qp_repeat, 44),
                ("ours", ours, args.repeat, 30),
            ):
                sql, seconds, error = measure(fn, adql, cat, n)
                v = verdict(conn, sql, expected, error, same, rows)
                totals[name][0] += v == "pass"
                if sql is not None:
                    totals[name][1].append(seconds)
                line.append(f"{v[:width]:{width}} {seconds * 1e3:7.2f}")
            print(" ".join(line), flush=True)
    finally:
        conn.close()
        import psycopg

        with psycopg.connect(**params("postgres"), autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {DB}")
    print()
    for name, (passed, times) in totals.items():
        print(
            f"{name:12} {passed}/{len(CORPUS)} features right; translation median "
            f"{statistics.median(times) * 1e3:.2f} ms (of the {len(times)} it translated)"
        )


if __name__ == "__main__":
    main()
