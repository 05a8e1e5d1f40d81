"""The re-training pipeline end to end on a synthetic sky, with 1 and with 2 worker processes.

    .venv/bin/python bench/pipeline.py [--stars 100000] [--workers 1 2] [--epochs 3]

Needs the test services (``python3 scripts/services.py start test``) and nothing else using
them. The sky (bench/ingest.py's, under var/bench/) is ingested once into the database
``rvscnn_bench``; then, for each worker count, that many ``celery worker --concurrency 1``
processes are started, each given cores / workers threads (RVS_WORKER_THREADS), and one run
(``manage.py pipeline run --publish --wait``) goes from queueing to publication. Prints the wall
time of each run, its stages (the run's own timings) and inference throughput: catalogue stars
labelled per second of the prediction stage (chunks of 20 000 source_ids spread over the
workers).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from ingest import BENCH, DB, REPO, env, manage, run_once, sky

WORK = BENCH / "pipeline"


def worker_env(store: Path, threads: int) -> dict[str, str]:
    return {
        **env(store),
        "RVS_MODELS_DIR": str(WORK / "models"),
        "RVS_RUNS_DIR": str(WORK / "runs"),
        "RVS_WORKER_THREADS": str(threads),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }


def start_workers(n: int, store: Path) -> list[subprocess.Popen]:
    threads = max(1, (os.cpu_count() or 1) // n)
    procs = []
    for i in range(n):
        log = open(WORK / f"worker-{n}-{i}.log", "w")  # noqa: SIM115 (lives as long as the worker)
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    *"-m celery -A tasks worker --pool=prefork --concurrency=1".split(),
                    "--queues=celery,training",
                    f"--hostname=bench{i}@%h",
                    "--without-gossip",
                    "--without-mingle",
                    "--loglevel=WARNING",
                ],
                cwd=REPO,
                env=worker_env(store, threads),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
    return procs


def stop_workers(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        os.killpg(p.pid, signal.SIGTERM)
    for p in procs:
        p.wait(timeout=60)


def run_status(store: Path) -> dict:
    """The newest run's record, read through the ORM in a child (this process stays light)."""
    code = (
        "import json, django; django.setup(); from archive.ops.models import PipelineRun as R; "
        "r = R.objects.first(); print(json.dumps({'status': r.status, 'timings': r.timings, "
        "'counts': r.counts, 'error': r.error, 'wall': (r.finished_at - r.created_at)"
        ".total_seconds()}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=env(store),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stars", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--splits", type=int, default=1)
    parser.add_argument("--members", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    os.environ.update(
        RVS_INSTANCE="test", RVS_DB_NAME=DB, DJANGO_SETTINGS_MODULE="archive.settings"
    )

    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    store = WORK / "spectra.zarr"
    t0 = time.perf_counter()
    ingested = run_once(sky(args.stars, args.seed), store)
    ingest_wall = time.perf_counter() - t0
    print(f"ingest of {args.stars:,} stars: {ingest_wall:.0f} s", flush=True)
    for product, (rate, seconds, _) in ingested.items():
        print(f"  {product:26s} {seconds:7.1f} s  {rate:9,.0f} rows/s")

    results = {}
    for n in args.workers:
        subprocess.run(
            [sys.executable, "-m", "celery", "-A", "tasks", "purge", "-f"],
            cwd=REPO,
            env=env(store),
            capture_output=True,
            check=True,
        )
        procs = start_workers(n, store)
        try:
            manage(
                [
                    "pipeline",
                    "run",
                    f"--splits={args.splits}",
                    f"--members={args.members}",
                    f"--epochs={args.epochs}",
                    f"--patience={args.epochs}",
                    "--perplexities=30",
                    "--publish",
                    "--wait",
                ],
                store,
            )
        finally:
            stop_workers(procs)
        results[n] = run = run_status(store)
        t = run["timings"]
        print(
            f"{n} worker(s): {run['wall']:.0f} s from queueing to publication "
            f"(select {t['select']:.0f}, train {t['train']:.0f}, version {t['finalize']:.0f}, "
            f"predict {t['predict']:.0f} s); {run['counts']['catalogue']:,} stars labelled at "
            f"{run['counts']['catalogue'] / t['predict']:,.0f} stars/s",
            flush=True,
        )
    if len(results) > 1:
        base = results[args.workers[0]]
        for n in args.workers[1:]:
            r = results[n]
            print(
                f"{n} vs {args.workers[0]} workers: end to end x{base['wall'] / r['wall']:.2f}, "
                f"training x{base['timings']['train'] / r['timings']['train']:.2f}, "
                f"inference x{base['timings']['predict'] / r['timings']['predict']:.2f}"
            )


if __name__ == "__main__":
    main()
