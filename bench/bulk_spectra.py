"""Bulk spectra (/datalink/spectra): time and the server's peak memory for 1 000, 10 000 and
100 000 random IDs in each format.

    .venv/bin/python bench/bulk_spectra.py [--stars 20000]

Needs the test services. A database ``rvscnn_bench_bulk`` is migrated and given ``--stars``
sources, each with an RVS spectrum (the four real Gaia DR3 spectra of ../shared/data with
noise, in var/bench/bulk-spectra.zarr) and XP coefficients; gunicorn serves it with one worker,
whose peak RSS (VmHWM) is read after each request: flat memory means it does not grow with the
number of IDs. IDs are drawn with replacement, so 100 000 IDs read 100 000 spectra.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("RVS_INSTANCE", "test")
DB = "rvscnn_bench_bulk"
STORE = REPO / "var" / "bench" / "bulk-spectra.zarr"
DATA = REPO.parent / "shared" / "data" / "rvs_mean_spectrum"
FIRST_ID = 10**15


def env(port: int = 0) -> dict[str, str]:
    return {
        **os.environ,
        "RVS_INSTANCE": "test",
        "RVS_DB_NAME": DB,
        "RVS_SPECTRUM_STORE_URL": str(STORE),
        "DJANGO_SETTINGS_MODULE": "archive.settings",
        "RVS_WEB_BIND": f"127.0.0.1:{port}",
        "RVS_WEB_WORKERS": "1",
        "RVS_EXPORT_ON_PUBLISH": "0",
    }


def _spectra(n: int) -> tuple[np.ndarray, np.ndarray]:
    from labeling.io.rvs import iter_rvs_spectra

    real = [
        (c.columns["flux"][0], c.columns["flux_error"][0])
        for path in sorted(DATA.glob("*.csv"))
        for c in iter_rvs_spectra(path)
    ]
    rng = np.random.default_rng(1)
    pick = rng.integers(0, len(real), n)
    noise = rng.normal(0, 0.01, (n, 2401)).astype(np.float32)
    flux = np.stack([real[i][0] for i in pick]) + noise
    error = np.stack([real[i][1] for i in pick])
    return flux.astype(np.float32), error.astype(np.float32)


def prepare(stars: int) -> None:
    import psycopg

    from archive import settings
    from labeling.spectrum_store import SpectrumStore

    db = settings.DATABASES["default"]
    p = {"host": db["HOST"], "port": db["PORT"], "user": db["USER"], "password": db["PASSWORD"]}
    with psycopg.connect(**p, dbname="postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB]).fetchone():
            conn.execute(f"CREATE DATABASE {DB}")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=REPO, env=env(), check=True)
    with psycopg.connect(**p, dbname=DB, autocommit=True) as conn:
        if conn.execute("SELECT count(*) FROM rvs_spectrum").fetchone()[0] == stars:
            return
        conn.execute("TRUNCATE gaia_source CASCADE")
        store = SpectrumStore(str(STORE))
        ids = range(FIRST_ID, FIRST_ID + stars)
        with conn.cursor().copy("COPY gaia_source (source_id, ra, dec) FROM STDIN") as copy:
            for k, sid in enumerate(ids):
                copy.write_row((sid, (k * 0.01) % 360, 0.0))
        for start in range(0, stars, 5000):
            flux, error = _spectra(min(5000, stars - start))
            segment, first = store.append(flux, error)
            sql = "COPY rvs_spectrum (source_id, store_array, store_row) FROM STDIN"
            with conn.cursor().copy(sql) as copy:
                for k in range(len(flux)):
                    copy.write_row((FIRST_ID + start + k, segment, first + k))
        coefficients = "{" + ",".join(["1.5"] * 55) + "}"
        conn.execute(
            "INSERT INTO xp_coefficients (source_id, bp_coefficients, rp_coefficients, "
            "bp_standard_deviation) SELECT source_id, %s, %s, 1.0 FROM gaia_source",
            [coefficients, coefficients],
        )
        conn.execute("ANALYZE")


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


def worker_hwm_mb(master: int) -> float:
    """Peak RSS of the gunicorn worker (the master's child) so far."""
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    status = Path(f"/proc/{children[0]}/status").read_text()
    kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM"))
    return kb / 1024


def fetch(port: int, ids: list[int], fmt: str) -> tuple[float, int]:
    body = urllib.parse.urlencode({"ID": "\n".join(map(str, ids)), "RESPONSEFORMAT": fmt})
    start = time.perf_counter()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/datalink/spectra", body.encode())
    size = 0
    with urllib.request.urlopen(request, timeout=600) as response:
        sink = io.BytesIO()
        while chunk := response.read(1 << 20):
            size += len(chunk)
            sink.seek(0)  # the client keeps nothing either: a flat client too
    return time.perf_counter() - start, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stars", type=int, default=20_000)
    parser.add_argument("--port", type=int, default=18941)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--formats", default="fits,votable,parquet,zip")
    args = parser.parse_args()
    prepare(args.stars)
    server = serve(args.port)
    rng = random.Random(2)
    try:
        fetch(args.port, [FIRST_ID], "fits")  # warm: imports, the store's metadata
        print("| format | IDs | seconds | MB sent | MB/s | worker peak RSS MB |")
        print("|---|---|---|---|---|---|")
        for fmt in args.formats.split(","):
            for n in map(int, args.sizes.split(",")):
                ids = [FIRST_ID + rng.randrange(args.stars) for _ in range(n)]
                seconds, size = fetch(args.port, ids, fmt)
                print(
                    f"| {fmt} | {n} | {seconds:.2f} | {size / 1e6:.0f} "
                    f"| {size / 1e6 / seconds:.0f} | {worker_hwm_mb(server.pid):.0f} |",
                    flush=True,
                )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
