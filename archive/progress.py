"""How far a long stage is and when it will end: done/total, percent, rate and time left.

A stage records a :class:`Progress` (JSON on its job, a bar on a terminal) each time a unit of
work (a chunk, a member, a block of rows) is done. The rate counts only the units done since
the stage started in this attempt, so a resumed stage that skips finished chunks does not
promise an end it will not keep.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace

#: below this many seconds a stage shows how far it is but no estimate of the time left
MIN_SECONDS_FOR_ETA = 5.0


@dataclass(frozen=True)
class Progress:
    stage: str
    unit: str  # "chunks", "members", "rows"
    total: int
    done: int = 0
    done_at_start: int = 0  # units already done when the stage (re)started: not in the rate
    started: float = 0.0  # Unix times
    updated: float = 0.0

    @classmethod
    def begin(cls, stage: str, unit: str, total: int, done: int = 0, now: float | None = None):
        now = time.time() if now is None else now
        return cls(stage, unit, total, done, done, now, now)

    def advance(self, by: int = 1, now: float | None = None) -> Progress:
        return self.at(self.done + by, now)

    def at(self, done: int, now: float | None = None) -> Progress:
        now = time.time() if now is None else now
        return replace(self, done=min(done, self.total), updated=now)

    @property
    def percent(self) -> float:
        return 100.0 * self.done / self.total if self.total else 100.0

    @property
    def elapsed(self) -> float:
        return max(self.updated - self.started, 0.0)

    @property
    def rate(self) -> float | None:
        """Units per second in this attempt (None before the first unit or the first second)."""
        worked = self.done - self.done_at_start
        return worked / self.elapsed if worked > 0 and self.elapsed > 0 else None

    @property
    def seconds_left(self) -> float | None:
        rate = self.rate
        if rate is None or self.elapsed < MIN_SECONDS_FOR_ETA:
            return None
        return (self.total - self.done) / rate

    def describe(self) -> str:
        """E.g. "12/40 chunks (30%), 0.5 chunks/s, about 56 s left"."""
        text = f"{self.done}/{self.total} {self.unit} ({self.percent:.0f}%)"
        if self.rate is not None:
            text += f", {self.rate:.3g} {self.unit}/s"
        left = self.seconds_left
        if self.done >= self.total:
            return text
        return text + (f", about {duration(left)} left" if left is not None else ", estimating")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> Progress | None:
        if not data or "total" not in data:
            return None
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in names})


def duration(seconds: float) -> str:
    """A human length of time: "45 s", "12 min", "2 h 05 min"."""
    seconds = max(round(seconds), 0)
    if seconds < 90:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"
