"""Synthetic sky generation speed: stars/s, peak RSS and bytes written (issue 4: 10^6 stars < 1 h).

    .venv/bin/python bench/synthetic.py [--stars 1000000] [--seed 1] [--keep]

Runs ``manage.py make_synthetic`` in a child process (the command users run), reads its peak
RSS and that of the RVS writer process it starts from wait4() / RUSAGE_CHILDREN, and prints
wall time, stars/s and the size of each file. The sky goes to var/bench/synth-N-SEED and is
deleted afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--stars", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--keep", action="store_true", help="keep the generated files")
    args = p.parse_args()
    out = REPO / "var" / "bench" / f"synth-{args.stars}-{args.seed}"
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "manage.py", "make_synthetic", "--stars", str(args.stars)]
    cmd += ["--seed", str(args.seed), "--out", str(out), "--no-progress"]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, env={**os.environ, "RVS_INSTANCE": "test"})
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("make_synthetic failed")
    # the RVS writer is a grandchild; RUSAGE_CHILDREN holds the largest of all waited-for
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    sizes = {f.name: f.stat().st_size for f in sorted(out.iterdir()) if f.is_file()}
    print(f"{args.stars} stars in {seconds:.0f} s: {args.stars / seconds:,.0f} stars/s")
    main_mib = usage.ru_maxrss / 1024
    print(f"peak RSS: make_synthetic {main_mib:.0f} MiB, largest process {children:.0f} MiB")
    for name, size in sizes.items():
        print(f"  {name}: {size / 1e9:.2f} GB")
    print(f"  total {sum(sizes.values()) / 1e9:.1f} GB")
    if not args.keep:
        shutil.rmtree(out)


if __name__ == "__main__":
    main()
