"""``manage.py make_synthetic``: the sky's size, seed and APOGEE share from the command line."""

from __future__ import annotations

import pytest
from astropy.table import Table
from django.core.management import CommandError, call_command


def _allstar_rows(out) -> int:
    return len(Table.read(next(out.glob("allStar*.fits")), hdu=1))


def test_apogee_fraction_sets_the_share_of_the_allstar_file(tmp_path):
    call_command("make_synthetic", stars=1500, seed=4, out=str(tmp_path / "a"), no_progress=True)
    call_command(
        "make_synthetic",
        stars=1500,
        seed=4,
        out=str(tmp_path / "b"),
        apogee_fraction=0.05,
        no_progress=True,
    )
    paper, small = _allstar_rows(tmp_path / "a"), _allstar_rows(tmp_path / "b")
    # 0.21 against 0.05 of 1 500 stars (plus the few duplicate and unmatched rows)
    assert 250 < paper < 420
    assert 40 < small < 120


@pytest.mark.parametrize("fraction", [0.0, -0.1, 1.5])
def test_apogee_fraction_outside_zero_one_is_refused(tmp_path, fraction):
    with pytest.raises(CommandError, match="--apogee-fraction"):
        call_command(
            "make_synthetic", stars=10, seed=1, out=str(tmp_path), apogee_fraction=fraction
        )
