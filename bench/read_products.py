"""Throughput of the bulk-ECSV product readers (a script, not a test).

Writes (once; reused when present) a Gaia DR3 bulk ``RvsMeanSpectrum`` file of N stars
(2401 flux + 2401 flux_error each) and an ``XpContinuousMeanSpectrum`` file of N
sources (4 x 55 coefficients + 2 x 1485 correlations) under ``var/bench/`` with
:func:`labeling.io.open_bulk_writer`, then reads each with the public readers and
prints rows/s and CPU ms per row (medians of the runs; the CPU figure, all threads
together, is the steadier one on a shared machine) and the peak RSS of the process
doing the reading.

Each timed run happens in a fresh child process, so the peak RSS of one run is not
hidden by an earlier one and every run starts cold (imports excluded from the time)::

    .venv/bin/python bench/read_products.py            # N = 20 000, 3 runs each
    .venv/bin/python bench/read_products.py -n 2000 --runs 5
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from labeling.io import iter_rvs_spectra, iter_xp_continuous, open_bulk_writer  # noqa: E402

BENCH_DIR = ROOT / "var" / "bench"
_WRITE_BLOCK = 500


def rvs_path(n: int) -> Path:
    return BENCH_DIR / f"RvsMeanSpectrum_bench_{n}.csv.gz"


def xp_path(n: int) -> Path:
    return BENCH_DIR / f"XpContinuousMeanSpectrum_bench_{n}.csv.gz"


def write_rvs(path: Path, n: int) -> None:
    rng = np.random.default_rng(20)
    tmp = path.with_name("part_" + path.name)  # same suffix: gzipped too
    with open_bulk_writer("rvs_mean_spectrum", tmp) as w:
        for start in range(0, n, _WRITE_BLOCK):
            m = min(_WRITE_BLOCK, n - start)
            flux = rng.normal(1.0, 0.02, (m, 2401)).astype(np.float32)
            err = np.abs(rng.normal(0.0, 0.01, (m, 2401))).astype(np.float32)
            flux[:, :3] = np.nan  # like the real spectra: the grid ends are null
            err[:, -2:] = np.nan
            ids = np.arange(start, start + m, dtype=np.int64) + 10**18
            w.write({
                "solution_id": np.full(m, 4545469030156206080),
                "source_id": ids,
                "ra": rng.uniform(0, 360, m),
                "dec": rng.uniform(-90, 90, m),
                "flux": flux,
                "flux_error": err,
                "combined_transits": rng.integers(5, 60, m).astype(np.int16),
                "combined_ccds": rng.integers(10, 200, m).astype(np.int16),
                "deblended_ccds": rng.integers(0, 5, m).astype(np.int16),
            })  # fmt: skip
    tmp.replace(path)


def write_xp(path: Path, n: int) -> None:
    rng = np.random.default_rng(21)
    tmp = path.with_name("part_" + path.name)  # same suffix: gzipped too
    with open_bulk_writer("xp_continuous", tmp) as w:
        for start in range(0, n, _WRITE_BLOCK):
            m = min(_WRITE_BLOCK, n - start)
            bp = rng.normal(0, 300, (m, 55))
            bp[::50] = np.nan  # some sources without BP
            w.write({
                "source_id": np.arange(start, start + m, dtype=np.int64) + 10**17,
                "solution_id": np.full(m, 4545469030156206080),
                "bp_standard_deviation": rng.uniform(1, 2, m).astype(np.float32),
                "bp_coefficients": bp,
                "bp_coefficient_errors": np.abs(bp / 10).astype(np.float32),
                "bp_coefficient_correlations": rng.uniform(-1, 1, (m, 1485)).astype(np.float32),
                "bp_n_relevant_bases": np.ma.MaskedArray(
                    rng.integers(20, 56, m), mask=np.isnan(bp[:, 0])
                ),
                "rp_standard_deviation": rng.uniform(1, 2, m).astype(np.float32),
                "rp_coefficients": rng.normal(0, 300, (m, 55)),
                "rp_coefficient_errors": rng.uniform(0, 5, (m, 55)).astype(np.float32),
                "rp_coefficient_correlations": rng.uniform(-1, 1, (m, 1485)).astype(np.float32),
                "rp_n_relevant_bases": rng.integers(20, 56, m),
            })  # fmt: skip
    tmp.replace(path)


def _peak_rss_mib() -> float:
    # ru_maxrss is KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # all threads of this process
    return usage.ru_utime + usage.ru_stime


def _timed_read(kind: str, path: str, chunk: int, queue) -> None:
    reader = iter_rvs_spectra if kind == "rvs" else iter_xp_continuous
    rss0 = _peak_rss_mib()
    cpu0 = _cpu_seconds()
    t0 = time.perf_counter()
    rows = 0
    for c in reader(path, chunk):
        rows += len(c)
    seconds = time.perf_counter() - t0
    cpu = _cpu_seconds() - cpu0
    queue.put({"rows": rows, "seconds": seconds, "cpu": cpu, "rss0": rss0, "peak": _peak_rss_mib()})


def bench(kind: str, path: Path, chunk: int, runs: int) -> dict:
    ctx = mp.get_context("spawn")
    results = []
    for _ in range(runs):
        queue = ctx.Queue()
        proc = ctx.Process(target=_timed_read, args=(kind, str(path), chunk, queue))
        proc.start()
        results.append(queue.get())
        proc.join()
        if proc.exitcode:
            raise SystemExit(f"{kind} read failed (exit code {proc.exitcode})")
    return {
        "rows": results[0]["rows"],
        "seconds": statistics.median(r["seconds"] for r in results),
        "rate": statistics.median(r["rows"] / r["seconds"] for r in results),
        # CPU time (all threads) per 1000 rows: steadier than wall time on a shared machine.
        "cpu_ms_per_row": statistics.median(1000 * r["cpu"] / r["rows"] for r in results),
        "peak_rss_mib": statistics.median(r["peak"] for r in results),
        "rss_after_import_mib": statistics.median(r["rss0"] for r in results),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=20_000, help="stars / sources per file")
    parser.add_argument("--runs", type=int, default=3, help="timed runs (median reported)")
    parser.add_argument("--rvs-chunk", type=int, default=100, help="chunk_stars for RVS")
    parser.add_argument("--xp-chunk", type=int, default=5000, help="chunk_rows for XP")
    parser.add_argument("--only", choices=("rvs", "xp"), help="bench one product")
    parser.add_argument("--json", action="store_true", help="print one JSON line per product")
    args = parser.parse_args(argv)

    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    jobs = [("rvs", rvs_path(args.n), write_rvs, args.rvs_chunk, "stars"),
            ("xp", xp_path(args.n), write_xp, args.xp_chunk, "sources")]  # fmt: skip
    for kind, path, write, chunk, unit in jobs:
        if args.only and kind != args.only:
            continue
        if not path.exists():
            t0 = time.perf_counter()
            write(path, args.n)
            print(f"wrote {path} ({path.stat().st_size / 2**20:.0f} MiB, "
                  f"{time.perf_counter() - t0:.0f} s)", flush=True)  # fmt: skip
        res = bench(kind, path, chunk, args.runs)
        if res["rows"] != args.n:
            raise SystemExit(f"{kind}: read {res['rows']} rows, expected {args.n}")
        if args.json:
            print(json.dumps({"product": kind, **res}))
            continue
        print(
            f"{kind:3s} {res['rows']:>7d} {unit:7s} {res['seconds']:7.2f} s  "
            f"{res['rate']:8.0f} {unit}/s  CPU {res['cpu_ms_per_row']:.2f} ms/row  "
            f"peak RSS {res['peak_rss_mib']:6.0f} MiB "
            f"(after imports {res['rss_after_import_mib']:.0f} MiB)  "
            f"median of {args.runs}, chunk {chunk}",
            flush=True,
        )


if __name__ == "__main__":
    main()
