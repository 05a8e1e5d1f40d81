"""Cross-match at scale: an uploaded table of positions joined with the catalogue through TAP.

    .venv/bin/python bench/xmatch.py [--rows 1000000] [--sizes 10000,100000,1000000] [--reps 3]

Needs the test services (``python3 scripts/services.py start test``). Uses bench/tap.py's
published catalogue (database ``rvscnn_bench_tap``, built once) and its gunicorn + Celery
service. For each size it writes a BINARY2 VOTable of that many positions — half of them 0.5"
from a catalogue star, half anywhere — and posts it to ``/tap/sync`` as a registered user (the
anonymous upload limit is 100 000 rows) with

    SELECT u.id, r.source_id, DISTANCE(POINT(u.ra, u.dec), POINT(r.ra, r.dec)) AS d
    FROM TAP_UPLOAD.u AS u JOIN <schema>.rvs_cnn AS r
      ON 1 = CONTAINS(POINT(r.ra, r.dec), CIRCLE(u.ra, u.dec, 1/3600.))

printing the median end-to-end time (upload, parse, load, join, streamed CSV result), the
matches found against those expected, and the server side's split (read + load of the upload
and the join alone, from a profile of the same steps in this process).

``--personal``: the same positions saved once as the bench user's personal table
(``POST /tap/user_tables``, timed) and cross-matched as ``user_bench_xmatch.xm<n>``, so each
query reads a stored, q3c-indexed table instead of loading an upload.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import tap  # noqa: E402  (bench/tap.py: the catalogue and the service)

RADIUS_DEG = 1 / 3600


def token() -> str:
    """An API token of a registered bench user in the bench database."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from archive.accounts.models import ApiToken

    user, _ = get_user_model().objects.get_or_create(username="bench-xmatch")
    return ApiToken.issue(user)


def positions(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray, int]:
    """(ra, dec, expected matches): half 0.5" from catalogue stars, half random."""
    import psycopg

    rng = np.random.default_rng(seed)
    near = n // 2
    with psycopg.connect(**tap.params(), dbname=tap.DB) as conn:
        stars = conn.execute(
            f"SELECT ra, dec FROM gaia_source ORDER BY random() LIMIT {near}"
        ).fetchall()
    star = np.array(stars, dtype=float).reshape(-1, 2)
    angle = rng.uniform(0, 2 * np.pi, len(star))
    offset = 0.5 / 3600
    ra_near = (star[:, 0] + offset * np.cos(angle) / np.cos(np.radians(star[:, 1]))) % 360
    dec_near = np.clip(star[:, 1] + offset * np.sin(angle), -90, 90)
    far = n - len(star)
    ra = np.concatenate([ra_near, rng.uniform(0, 360, far)])
    dec = np.concatenate([dec_near, np.degrees(np.arcsin(rng.uniform(-1, 1, far)))])
    return ra, dec, len(star)


def votable(ra: np.ndarray, dec: np.ndarray) -> bytes:
    from astropy.table import Table

    t = Table({"id": np.arange(len(ra), dtype=np.int64), "ra": ra, "dec": dec})
    t["ra"].unit = t["dec"].unit = "deg"
    buf = io.BytesIO()
    t.write(buf, format="votable", tabledata_format="binary2")
    return buf.getvalue()


USER_SCHEMA = "user_bench_xmatch"  # the bench user's personal tables


def query(schema: str, table: str = "TAP_UPLOAD.u") -> str:
    return (
        "SELECT u.id, r.source_id, DISTANCE(POINT(u.ra, u.dec), POINT(r.ra, r.dec)) AS d "
        f"FROM {table} AS u JOIN {schema}.rvs_cnn AS r "
        f"ON 1 = CONTAINS(POINT(r.ra, r.dec), CIRCLE(u.ra, u.dec, {RADIUS_DEG!r}))"
    )


def save_personal(url: str, key: str, body: bytes, name: str) -> float:
    """Seconds to save ``body`` as the bench user's table ``name`` (any old one dropped)."""
    import requests

    auth = {"Authorization": f"Token {key}"}
    requests.delete(f"{url}/user_tables/{name}", headers=auth, timeout=60)
    t0 = time.perf_counter()
    r = requests.post(
        f"{url}/user_tables",
        data={"name": name},
        files={"table": ("u.vot", body, "application/x-votable+xml")},
        headers=auth,
        timeout=600,
    )
    if r.status_code != 201:
        raise SystemExit(f"saving {name} failed ({r.status_code}): {r.text[:500]}")
    return time.perf_counter() - t0


def crossmatch(
    url: str, key: str, body: bytes, schema: str, personal: str = ""
) -> tuple[float, int]:
    import requests

    upload = {} if personal else {"UPLOAD": "u,param:table"}
    t0 = time.perf_counter()
    r = requests.post(
        f"{url}/sync",
        data={
            "REQUEST": "doQuery",
            "LANG": "ADQL",
            "FORMAT": "csv",
            "MAXREC": "5000000",
            **upload,
            "QUERY": query(schema, personal) if personal else query(schema),
        },
        files=None if personal else {"table": ("u.vot", body, "application/x-votable+xml")},
        headers={"Authorization": f"Token {key}"},
        timeout=600,
    )
    rows = r.content.count(b"\n") - 1
    elapsed = time.perf_counter() - t0
    if r.status_code != 200:
        raise SystemExit(f"cross-match failed ({r.status_code}): {r.text[:500]}")
    return elapsed, rows


def server_split(body: bytes, schema: str) -> dict[str, float]:
    """The server's steps timed alone in this process: read the upload, load it, join."""
    from archive.tap.limits import REGISTERED
    from archive.tap.service import prepare, reader_connection
    from archive.tap.uploads import load, read_votable

    t0 = time.perf_counter()
    table = read_votable("u", body, REGISTERED)
    t1 = time.perf_counter()
    conn = reader_connection(REGISTERED.sync_timeout_s)
    load(conn, [table])
    t2 = time.perf_counter()
    prepared = prepare("ADQL", query(schema), uploads=[table])
    with conn.cursor() as cur:
        cur.execute(prepared.sql)
        cur.fetchall()
    t3 = time.perf_counter()
    return {"read_s": t1 - t0, "load_s": t2 - t1, "join_s": t3 - t2}


def personal_run(url: str, key: str, body: bytes, schema: str, n: int, near: int, reps: int):
    name = f"xm{n}"
    saved_s = save_personal(url, key, body, name)
    table = f"{USER_SCHEMA}.{name}"
    crossmatch(url, key, body, schema, table)  # warm
    runs = [crossmatch(url, key, body, schema, table) for _ in range(reps)]
    median = statistics.median(t for t, _ in runs)
    print(
        f"{n:>9}-row personal table: saved in {saved_s:.2f} s; cross-match median "
        f"{median:.2f} s, {runs[0][1]} matches (≥ {near} expected)",
        flush=True,
    )
    return {"save_s": saved_s, "median_s": median, "matches": runs[0][1], "expected": near}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="catalogue rows")
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--personal", action="store_true", help="cross-match personal tables")
    args = ap.parse_args()
    import os

    os.environ["RVS_DB_NAME"] = tap.DB
    tap.build(args.rows)
    from django.conf import settings

    key = token()
    schema = settings.PUBLISHED_SCHEMA
    service = tap.Service()
    out = {}
    try:
        for n in (int(s) for s in args.sizes.split(",")):
            ra, dec, near = positions(n)
            body = votable(ra, dec)
            if args.personal:
                out[n] = personal_run(service.url, key, body, schema, n, near, args.reps)
                continue
            crossmatch(service.url, key, body, schema)  # warm
            runs = [crossmatch(service.url, key, body, schema) for _ in range(args.reps)]
            split = server_split(body, schema)
            out[n] = {
                "median_s": statistics.median(t for t, _ in runs),
                "matches": runs[0][1],
                "expected_at_least": near,
                "upload_mb": len(body) / 1e6,
                **split,
            }
            print(
                f"{n:>9} rows ({len(body) / 1e6:.1f} MB): median {out[n]['median_s']:.2f} s, "
                f"{runs[0][1]} matches (≥ {near} expected); server: read "
                f"{split['read_s']:.2f} s, load {split['load_s']:.2f} s, "
                f"join {split['join_s']:.2f} s",
                flush=True,
            )
    finally:
        service.stop()
    target = REPO / "var" / "bench" / ("xmatch_personal.json" if args.personal else "xmatch.json")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
