"""Progress of a long stage: done/total, rate and time left from what was done this attempt."""

import pytest

from archive.progress import MIN_SECONDS_FOR_ETA, Progress, duration


def test_rate_and_time_left_follow_the_units_done():
    p = Progress.begin("predict", "chunks", total=40, now=1000.0)
    assert p.percent == 0 and p.rate is None and p.seconds_left is None
    assert p.describe() == "0/40 chunks (0%), estimating"
    p = p.advance(10, now=1020.0)  # 10 chunks in 20 s: 0.5/s, 30 left
    assert p.percent == 25.0 and p.rate == 0.5 and p.seconds_left == 60.0
    assert p.describe() == "10/40 chunks (25%), 0.5 chunks/s, about 60 s left"
    done = p.advance(100, now=1100.0)
    assert done.done == 40 and done.describe().endswith("(100%), 0.4 chunks/s")


def test_a_resumed_stage_counts_only_this_attempts_work():
    p = Progress.begin("predict", "chunks", total=100, done=90, now=0.0)  # 90 from before
    p = p.advance(1, now=100.0)  # one chunk in 100 s: not 91 chunks in 100 s
    assert p.rate == pytest.approx(0.01) and p.seconds_left == pytest.approx(900.0)
    assert "about 15 min left" in p.describe()


def test_no_estimate_from_the_first_seconds():
    p = Progress.begin("train", "members", total=28, now=0.0).advance(1, now=1.0)
    assert MIN_SECONDS_FOR_ETA > 1.0 and p.seconds_left is None
    assert p.describe() == "1/28 members (4%), 1 members/s, estimating"


def test_json_round_trip_and_nothing_recorded():
    p = Progress.begin("train", "members", 28, 3, now=5.0).advance(2, now=65.0)
    assert Progress.from_dict(p.to_dict()) == p
    assert Progress.from_dict({}) is None and Progress.from_dict(None) is None


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 s"),
        (45.4, "45 s"),
        (89, "89 s"),
        (90, "2 min"),
        (3000, "50 min"),
        (7500, "2 h 05 min"),
    ],
)
def test_durations_read_as_people_say_them(seconds, text):
    assert duration(seconds) == text
