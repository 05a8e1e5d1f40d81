"""Ingest speed and memory on synthetic skies: rows/s and peak RSS per product, spectrum reads.

    .venv/bin/python bench/ingest.py [--stars 100000] [--small 10000] [--repeat 3]

Needs the test services (``python3 scripts/services.py start test``). Skies are generated once
under var/bench/ (make_synthetic's generator, real bulk formats); every run loads them into a
fresh database ``rvscnn_bench`` and a fresh spectrum store through ``manage.py ingest`` in a
child process, whose peak RSS is read from wait4(); rows/s is the ingest's own timing (file
open to commit), without interpreter start-up. Prints medians over the repeats.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
BENCH = REPO / "var" / "bench"
DB = "rvscnn_bench"
PRODUCTS = [  # (manage.py ingest product, file name, extra arguments)
    ("gaia-source", "GaiaSource_synthetic.csv.gz", []),
    ("astrophysical-parameters", "AstrophysicalParameters_synthetic.csv.gz", []),
    ("xp-continuous", "XpContinuousMeanSpectrum_synthetic.csv.gz", []),
    ("rvs-spectra", "RvsMeanSpectrum_synthetic.csv.gz", []),
    ("apogee", "allStar-dr17-synthetic.fits", ["--skip-bad-rows"]),
]


def env(store: Path) -> dict[str, str]:
    return {
        **os.environ,
        "RVS_INSTANCE": "test",
        "RVS_DB_NAME": DB,
        "RVS_SPECTRUM_STORE_URL": str(store),
        "DJANGO_SETTINGS_MODULE": "archive.settings",
    }


def manage(args: list[str], store: Path) -> tuple[float, float, str]:
    """Run manage.py in a child; (wall seconds, peak RSS MiB, output)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=env(store),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{out}")
    return seconds, usage.ru_maxrss / 1024, out


def sky(n: int, seed: int) -> Path:
    out = BENCH / f"sky-{n}-{seed}"
    if not (out / ".complete").exists():
        print(f"generating a {n}-star sky in {out} ...", flush=True)
        # in a child: a child's peak RSS counts its parent's at fork (Linux keeps the
        # high-water mark across exec), so this process must stay small
        args = ["make_synthetic", "--stars", str(n), "--seed", str(seed), "--out", str(out)]
        manage(args, BENCH / "unused-store")
        (out / ".complete").touch()
    return out


def fresh_database() -> None:
    import psycopg

    from archive import settings

    db = settings.DATABASES["default"]
    with psycopg.connect(
        host=db["HOST"],
        port=db["PORT"],
        user=db["USER"],
        password=db["PASSWORD"],
        dbname="postgres",
        autocommit=True,
    ) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB}")
        conn.execute(f"CREATE DATABASE {DB}")


def run_once(sky_dir: Path, store: Path) -> dict[str, tuple[float, float, float]]:
    """Ingest every product once; product -> (rows/s, seconds, peak RSS MiB)."""
    fresh_database()
    shutil.rmtree(store, ignore_errors=True)
    manage(["migrate", "-v0"], store)
    results = {}
    for product, name, extra in PRODUCTS:
        _, rss, out = manage(
            ["ingest", product, str(sky_dir / name), "--no-progress", *extra], store
        )
        # the ingest's own timing, without the child's interpreter and import start-up
        summary = next(line for line in out.splitlines() if " read," in line)
        rows = int(summary.split(": ", 1)[1].split(" read")[0])
        seconds = float(summary.rsplit("(", 1)[1].split(" s,")[0])
        results[product] = (rows / seconds, seconds, rss)
    return results


def spectrum_reads(store: Path, n: int = 500) -> tuple[float, float]:
    """Median and p99 (ms) of reading one spectrum by reference (DB lookup + store read)."""
    import django

    django.setup()
    import numpy as np

    from archive.catalogue.models import RvsSpectrum
    from archive.catalogue.spectra import read_spectrum
    from labeling.spectrum_store import SpectrumStore

    ids = list(RvsSpectrum.objects.values_list("source_id", flat=True)[:100_000])
    rng = np.random.default_rng(0)
    st = SpectrumStore(str(store))
    times = []
    for sid in rng.choice(ids, size=min(n, len(ids)), replace=False):
        t = time.perf_counter()
        read_spectrum(int(sid), st)
        times.append((time.perf_counter() - t) * 1e3)
    return float(np.median(times)), float(np.percentile(times, 99))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stars", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    # before anything imports the settings: the test instance, the benchmark's own database
    os.environ.update(
        RVS_INSTANCE="test", RVS_DB_NAME=DB, DJANGO_SETTINGS_MODULE="archive.settings"
    )

    table: dict[int, dict[str, list]] = {}
    for n in (args.small, args.stars):
        sky_dir = sky(n, args.seed)
        store = BENCH / f"store-{n}.zarr"
        runs = [run_once(sky_dir, store) for _ in range(args.repeat)]
        table[n] = {p: [r[p] for r in runs] for p, _, _ in PRODUCTS}
    print(f"\ningest, median of {args.repeat} runs (rows/s | seconds | peak RSS MiB):")
    print(f"{'product':26s}" + "".join(f"{n:>34,d} stars" for n in table))
    for product, _, _ in PRODUCTS:
        cells = []
        for n in table:
            runs = table[n][product]
            cells.append(
                " | ".join(f"{statistics.median(r[i] for r in runs):>9,.0f}" for i in range(3))
            )
        print(f"{product:26s}" + "".join(f"{c:>40s}" for c in cells))
    small, big = table[args.small], table[args.stars]
    for product, _, _ in PRODUCTS:
        growth = statistics.median(r[2] for r in big[product]) / statistics.median(
            r[2] for r in small[product]
        )
        print(f"peak RSS {args.stars:,} vs {args.small:,} stars, {product}: x{growth:.2f}")
    median, p99 = spectrum_reads(BENCH / f"store-{args.stars}.zarr")
    print(
        f"one spectrum by reference ({args.stars:,}-star store): median {median:.2f} ms, "
        f"p99 {p99:.2f} ms"
    )


if __name__ == "__main__":
    main()
