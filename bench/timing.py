"""Wall-clock medians for the bench scripts (a helper, not a benchmark)."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence


def interleaved_medians(cases: Mapping[str, Callable[[], object]], reps: int) -> dict[str, float]:
    """Median seconds of each case over ``reps`` rounds, the cases interleaved in each round
    (so load from other processes hits every case alike). Warm cases up before calling."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(reps):
        for name, f in cases.items():
            t0 = time.perf_counter()
            f()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) for name, t in times.items()}


def run_measured(args: Sequence[str], cwd, env: Mapping[str, str] | None = None) -> dict:
    """Run a bench child that prints one JSON object; that object, with the child's peak RSS
    (``rss_mib``, from wait4) added."""
    proc = subprocess.Popen(list(args), cwd=cwd, env=env, stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(args[1:4])} failed")
    result = json.loads(out)
    result["rss_mib"] = usage.ru_maxrss / 1024
    return result
