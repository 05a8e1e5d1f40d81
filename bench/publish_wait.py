"""How long a cone query waits while a new 30M-row version is published, and rolled back.

    python3 scripts/services.py start bench
    .venv/bin/python bench/dr4_build.py                  # the published 30M catalogue, kept
    RVS_INSTANCE=bench .venv/bin/python bench/publish_wait.py [--clients 4] [--seconds 10]

Gives the catalogue of bench/dr4_build.py a second version (``bench-dr4-b``: every label of the
published one copied into its own partition, once, kept), then serves the database with
gunicorn as the demo does and runs --clients threads sending 1° TAP cone queries over HTTP
without pause. After --seconds of that (the baseline) the second version is published with the
archive's own ``publish()``, after another --seconds it is rolled back with ``rollback()``, and
the clients run --seconds more. Printed: the time each switch took, and per phase the number
of cones, their median and the longest; the longest cone that was in flight while a switch
ran is what a reader waited for it. The version's rows and which version each cone read are
checked (no cone sees an empty or mixed catalogue).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
os.environ.setdefault("RVS_INSTANCE", "bench")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "archive.settings")
os.environ["RVS_EXPORT_ON_PUBLISH"] = "0"  # the bench times the switch, not the exports

import dr4_build  # noqa: E402  (bench/, after the path is set)
import tap  # noqa: E402

SECOND = "bench-dr4-b"


def second_version(conn, first: int) -> int:
    """The second version, its partition filled from the first (skipped when already full)."""
    row = conn.execute("SELECT id FROM model_version WHERE name = %s", [SECOND]).fetchone()
    vid = (
        row[0]
        if row
        else conn.execute(
            "INSERT INTO model_version (name, created_at, status, inputs, n_splits, n_members,"
            " config, path, data_hash, code_version, framework_versions, is_published)"
            " VALUES (%s, now(), 'ready', 'hybrid', 7, 4, '{}', '', '', '', '{}', false)"
            " RETURNING id",
            [SECOND],
        ).fetchone()[0]
    )
    if conn.execute(
        "SELECT 1 FROM cnn_label WHERE model_version_id = %s LIMIT 1", [vid]
    ).fetchone():
        return vid
    t0 = time.perf_counter()
    columns = [
        r[0]
        for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'cnn_label'"
            " AND column_name <> 'model_version_id' ORDER BY ordinal_position"
        )
    ]
    names = ", ".join(columns)
    with conn.transaction():
        conn.execute(
            f"INSERT INTO cnn_label (model_version_id, {names})"
            f" SELECT %s, {names} FROM cnn_label WHERE model_version_id = %s",
            [vid, first],
        )
    conn.execute("VACUUM ANALYZE cnn_label")
    print(
        f"second version's 30M labels copied in {time.perf_counter() - t0:.0f} s", file=sys.stderr
    )
    return vid


def cones(url: str, schema: str, stop: threading.Event, out: list) -> None:
    import requests

    session = requests.Session()
    while not stop.is_set():
        ra, dec = random.uniform(0, 360), random.uniform(-60, 60)
        query = (
            f"SELECT COUNT(*) AS n, MIN(model_version) AS lo, MAX(model_version) AS hi"
            f" FROM {schema}.rvs_cnn WHERE 1 = CONTAINS(POINT('ICRS', ra, dec),"
            f" CIRCLE('ICRS', {ra:.4f}, {dec:.4f}, 1))"
        )
        t0 = time.perf_counter()
        r = session.get(
            f"{url}/sync",
            params={"REQUEST": "doQuery", "LANG": "ADQL", "FORMAT": "csv", "QUERY": query},
            timeout=120,
        )
        t1 = time.perf_counter()
        ok = r.status_code == 200
        versions = r.text.splitlines()[-1].split(",")[1:] if ok else []
        out.append((t0, t1, ok, tuple(versions)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", default="rvscnn_bench_dr4")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=10)
    args = ap.parse_args()
    tap.set_db(args.db)

    import django

    django.setup()
    from django.conf import settings
    from django.db import connections

    from archive.catalogue.models import ModelVersion
    from archive.ops.publishing import publish, rollback

    connections["default"].settings_dict["NAME"] = args.db
    schema = settings.PUBLISHED_SCHEMA
    conn = dr4_build.connect(args.db)
    first = ModelVersion.objects.published().get()
    if first.name == SECOND:  # a run stopped between the switches: start from the first again
        rollback()
        first = ModelVersion.objects.published().get()
    vid = second_version(conn, first.pk)
    service = tap.Service()
    stop, log = threading.Event(), []
    threads = [
        threading.Thread(target=cones, args=(service.url, schema, stop, log))
        for _ in range(args.clients)
    ]
    marks: dict[str, tuple[float, float]] = {}
    try:
        for t in threads:
            t.start()
        time.sleep(args.seconds)
        t0 = time.perf_counter()
        publish(ModelVersion.objects.get(pk=vid), note="bench/publish_wait.py")
        marks["publish"] = (t0, time.perf_counter())
        time.sleep(args.seconds)
        t0 = time.perf_counter()
        rollback()
        marks["rollback"] = (t0, time.perf_counter())
        time.sleep(args.seconds)
    finally:
        stop.set()
        for t in threads:
            t.join()
        service.stop()
    result: dict[str, object] = {"clients": args.clients, "cones": len(log)}
    for name, (s0, s1) in marks.items():
        during = [b - a for a, b, _, _ in log if a < s1 and b > s0]
        result[f"{name}_s"] = s1 - s0
        result[f"{name}_longest_cone_in_flight_s"] = max(during, default=0.0)
    phases = {
        "before": (0.0, marks["publish"][0]),
        "published": (marks["publish"][1], marks["rollback"][0]),
        "rolled back": (marks["rollback"][1], float("inf")),
    }
    for name, (s0, s1) in phases.items():
        lat = [b - a for a, b, _, _ in log if a >= s0 and b <= s1]
        result[f"{name}: cones"] = len(lat)
        result[f"{name}: median_s"] = statistics.median(lat) if lat else None
        result[f"{name}: longest_s"] = max(lat, default=None)
    result["failed"] = sum(1 for _, _, ok, _ in log if not ok)
    mixed = [v for _, _, ok, v in log if ok and v and v[0] and v[0] != v[1]]
    result["cones that read two versions"] = len(mixed)
    print(json.dumps(result, indent=1))
    out = REPO / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "publish_wait.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
