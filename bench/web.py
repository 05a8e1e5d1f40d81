"""The web archive's pages on a 1 000 000-row catalogue: latency per page and a load run.

    .venv/bin/python bench/web.py [--rows 1000000] [--reps 20] [--load-seconds 60]
                                  [--clients 32]

Needs the test services. Reuses bench/tap.py's database (``rvscnn_bench_tap``, built once:
--rows published stars uniformly over the sky) and its gunicorn + Celery service; then:

- each page (home, four searches, a star page, the query page, a cached figure) fetched --reps
  times with a kept-alive client, interleaved: median and p95;
- for each search, the bare PostgreSQL time of its two statements (count and page, translated
  by the same code) as the read-only role, so the page's own cost is the difference;
- a load run: --clients concurrent clients browsing the pages at random for --load-seconds
  (throughput, p50/p95, errors).

At DR4 size: ``RVS_INSTANCE=bench RVS_BENCH_DB=rvscnn_bench_dr4 ... --prebuilt`` (the 30M
catalogue of bench/dr4_build.py). Figures go to stdout and var/bench/web.json;
docs/benchmarks.md records them.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.tap import DB, Service, build, params  # noqa: E402


def pages(source_ids: list[int]) -> dict[str, str]:
    return {
        "home": "/",
        "search: recommended sample, page 1": "/search/?flags=clean",
        "search: cone 1 deg (sexagesimal)": "/search/?ra=12:00:00&dec=%2B10+00+00&radius=1"
        "&radius_unit=deg",
        "search: Teff 4500-5000, log g < 3, page 3": "/search/?teff_min=4500&teff_max=5000"
        "&logg_max=3&page=3",
        "search: 100 source_ids": "/search/?ids=" + "+".join(map(str, source_ids[:100])),
        "star page": f"/star/{source_ids[0]}/",
        "query page": "/query/",
        "figure (cached)": "/plots/kiel.png",
    }


def db_times(reps: int) -> dict[str, float]:
    """Median ms of each search's count + page SQL, run as the read-only role."""
    import django
    import psycopg

    django.setup()
    from archive.tap.service import prepare_adql
    from archive.web.forms import SearchForm
    from archive.web.search import COUNT_CAP

    conn = psycopg.connect(**params("reader"), dbname=DB, autocommit=True)
    out = {}
    for name, url in pages(SOURCE_IDS).items():
        if not name.startswith("search"):
            continue
        query = dict(p.split("=", 1) for p in url.split("?", 1)[1].split("&"))
        from urllib.parse import unquote_plus

        form = SearchForm({k: unquote_plus(v) for k, v in query.items()})
        assert form.is_valid(), form.errors
        s = form.search()
        number = int(query.get("page", 1))
        sqls = [  # as archive.web.queries.run_search runs them
            prepare_adql(s.count_adql(COUNT_CAP)).sql,
            f"{prepare_adql(s.adql()).sql} LIMIT 50 OFFSET {(number - 1) * 50}",
        ]
        times = []
        for _ in range(reps):
            t = time.perf_counter()
            for sql in sqls:
                conn.execute(sql).fetchall()
            times.append(1000 * (time.perf_counter() - t))
        out[name] = statistics.median(times)
    conn.close()
    return out


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, int(round(0.95 * len(values))) - 1)]


def latency(base: str, reps: int) -> dict[str, tuple[float, float]]:
    import requests

    session = requests.Session()
    urls = pages(SOURCE_IDS)
    for url in urls.values():  # warm: figures drawn, connections opened
        session.get(base + url, timeout=120).raise_for_status()
    times: dict[str, list[float]] = {name: [] for name in urls}
    for _ in range(reps):
        for name, url in random.sample(list(urls.items()), len(urls)):
            t = time.perf_counter()
            r = session.get(base + url, timeout=120)
            r.raise_for_status()
            times[name].append(1000 * (time.perf_counter() - t))
    return {n: (statistics.median(v), p95(v)) for n, v in times.items()}


def load(base: str, clients: int, seconds: float) -> dict:
    import requests

    urls = list(pages(SOURCE_IDS).values())
    stop = time.monotonic() + seconds
    times: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def client() -> None:
        session = requests.Session()
        while time.monotonic() < stop:
            t = time.perf_counter()
            try:
                ok = session.get(base + random.choice(urls), timeout=120).ok
            except requests.RequestException:
                ok = False
            with lock:
                times.append(1000 * (time.perf_counter() - t))
                errors[0] += not ok

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {
        "clients": clients,
        "seconds": seconds,
        "requests": len(times),
        "per_second": len(times) / seconds,
        "p50_ms": statistics.median(times),
        "p95_ms": p95(times),
        "errors": errors[0],
    }


SOURCE_IDS: list[int] = []


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--load-seconds", type=float, default=60)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--prebuilt", action="store_true", help="serve RVS_BENCH_DB as it is")
    args = ap.parse_args()
    if not args.prebuilt:
        build(args.rows)
    import psycopg

    with psycopg.connect(**params(), dbname=DB) as conn:
        SOURCE_IDS.extend(
            r[0]
            for r in conn.execute("SELECT source_id FROM cnn_label ORDER BY random() LIMIT 100")
        )
    service = Service()
    base = service.url.removesuffix("/tap")
    try:
        pages_ms = latency(base, args.reps)
        database_ms = db_times(args.reps)
        loaded = load(base, args.clients, args.load_seconds)
    finally:
        service.stop()
    print(f"{'page':45s} {'median ms':>10s} {'p95 ms':>8s} {'DB ms':>7s}")
    for name, (median, p) in pages_ms.items():
        db = database_ms.get(name)
        print(f"{name:45s} {median:10.1f} {p:8.1f} {'' if db is None else f'{db:7.1f}'}")
    print(json.dumps(loaded))
    out = REPO / "var" / "bench" / "web.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps({"rows": args.rows, "pages": pages_ms, "db": database_ms, "load": loaded})
    )


if __name__ == "__main__":
    main()
