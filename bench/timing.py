"""Wall-clock medians for the bench scripts (a helper, not a benchmark)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping


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
