"""DataLink and spectrum-product latency, alone and under 32 concurrent clients.

    .venv/bin/python bench/datalink.py [--seconds 30] [--clients 32] [--requests 300]

Needs the test services. A database ``rvscnn_bench_datalink`` is migrated and given the four
real Gaia DR3 RVS mean spectra of ../shared/data (ingested into var/bench/datalink-spectra.zarr
by ``manage.py ingest``); gunicorn serves it as the demo does (scripts/gunicorn.conf.py: 2
workers x 16 threads). Measured from the client: one request at a time (median, p95) for the
links document of one ID and the RVS spectrum as FITS and as VOTable; then ``--clients``
clients (4 processes x threads, keep-alive connections) for ``--seconds`` each: throughput,
median and p95 latency, errors. The client shares the machine's cores with the server.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("RVS_INSTANCE", "test")
DB = "rvscnn_bench_datalink"
STORE = REPO / "var" / "bench" / "datalink-spectra.zarr"
DATA = REPO.parent / "shared" / "data" / "rvs_mean_spectrum"
STARS = {
    "gaiaspec_Kepler-93.csv": 2052747119115620352,
    "gaiaspec_HD176650.csv": 4268620287278693120,
    "gaiaspec_GaiaDR3-3174658066485297152.csv": 3174658066485297152,
    "gaiaspec_Kepler-409.csv": 2128215909315876352,
}


def env(port: int = 0) -> dict[str, str]:
    return {
        **os.environ,
        "RVS_INSTANCE": "test",
        "RVS_DB_NAME": DB,
        "RVS_SPECTRUM_STORE_URL": str(STORE),
        "DJANGO_SETTINGS_MODULE": "archive.settings",
        "RVS_WEB_BIND": f"127.0.0.1:{port}",
        "RVS_EXPORT_ON_PUBLISH": "0",
    }


def prepare() -> None:
    import psycopg

    from archive import settings

    db = settings.DATABASES["default"]
    p = {"host": db["HOST"], "port": db["PORT"], "user": db["USER"], "password": db["PASSWORD"]}
    with psycopg.connect(**p, dbname="postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB]).fetchone():
            conn.execute(f"CREATE DATABASE {DB}")
    run = {"cwd": REPO, "env": env(), "check": True}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], **run)
    with psycopg.connect(**p, dbname=DB, autocommit=True) as conn:
        if conn.execute("SELECT count(*) FROM rvs_spectrum").fetchone()[0] == len(STARS):
            return
        for i, sid in enumerate(STARS.values()):
            conn.execute(
                "INSERT INTO gaia_source (source_id, ra, dec, rvs_spec_sig_to_noise) "
                "VALUES (%s, %s, 0, 50) ON CONFLICT DO NOTHING",
                [sid, 10.0 * i],
            )
    paths = [str(DATA / name) for name in STARS]
    subprocess.run(
        [sys.executable, "manage.py", "ingest", "rvs-spectra", *paths, "--no-progress"], **run
    )


def serve(port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "scripts/gunicorn.conf.py"],
        cwd=REPO,
        env=env(port),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/datalink/links?ID=1", timeout=2)
            return proc
        except OSError:
            time.sleep(0.3)
    raise SystemExit("gunicorn did not start")


PATHS = {
    "links (1 ID)": lambda sid: f"/datalink/links?ID={sid}",
    "RVS spectrum, FITS": lambda sid: f"/datalink/rvs/{sid}?RESPONSEFORMAT=fits",
    "RVS spectrum, VOTable": lambda sid: f"/datalink/rvs/{sid}?RESPONSEFORMAT=votable",
}


def one(conn: http.client.HTTPConnection, path: str) -> tuple[float, int]:
    start = time.perf_counter()
    conn.request("GET", path)
    response = conn.getresponse()
    response.read()
    return time.perf_counter() - start, response.status


def sequential(port: int, kind: str, n: int) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    ids = list(STARS.values())
    for _ in range(20):  # warm every worker thread's connection and caches
        one(conn, PATHS[kind](random.choice(ids)))
    times = []
    for _ in range(n):
        seconds, status = one(conn, PATHS[kind](random.choice(ids)))
        assert status == 200, status
        times.append(seconds)
    return times


def _client_process(args) -> tuple[list[float], int]:
    port, kind, threads, seconds = args
    times: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    ids = list(STARS.values())

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine, bad = [], 0
        while time.monotonic() < stop:
            try:
                t, status = one(conn, PATHS[kind](random.choice(ids)))
                if status == 200:
                    mine.append(t)
                else:
                    bad += 1
            except (OSError, http.client.HTTPException):
                bad += 1
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        with lock:
            times.extend(mine)
            errors[0] += bad

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return times, errors[0]


def concurrent(port: int, kind: str, clients: int, seconds: float) -> tuple[list[float], int]:
    procs = 4
    with multiprocessing.Pool(procs) as pool:
        parts = pool.map(_client_process, [(port, kind, clients // procs, seconds)] * procs)
    return [t for p in parts for t in p[0]], sum(p[1] for p in parts)


def ms(values: list[float], q: float) -> str:
    return f"{statistics.quantiles(values, n=100)[int(q) - 1] * 1000:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--port", type=int, default=18931)
    args = parser.parse_args()
    prepare()
    server = serve(args.port)
    try:
        print(
            "| request | one at a time: median ms | p95 ms "
            f"| {args.clients} clients: requests/s | median ms | p95 ms | errors |"
        )
        print("|---|---|---|---|---|---|---|")
        for kind in PATHS:
            alone = sequential(args.port, kind, args.requests)
            loaded, errors = concurrent(args.port, kind, args.clients, args.seconds)
            print(
                f"| {kind} | {statistics.median(alone) * 1000:.1f} | {ms(alone, 95)} "
                f"| {len(loaded) / args.seconds:.0f} | {statistics.median(loaded) * 1000:.1f} "
                f"| {ms(loaded, 95)} | {errors} |",
                flush=True,
            )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
