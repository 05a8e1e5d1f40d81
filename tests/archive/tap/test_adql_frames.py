"""Coordinate systems: GALACTIC constants become ICRS as astropy converts them."""

import math

import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord

from archive.tap.adql import translate
from archive.tap.adql.geometry import galactic_to_icrs


@pytest.mark.parametrize(("lon", "lat"), [(0, 0), (120, 30), (280.5, -45), (33, 89.9)])
def test_galactic_positions_convert_as_astropy_does(lon, lat):
    ra, dec = galactic_to_icrs(lon, lat)
    ref = SkyCoord(l=lon * u.deg, b=lat * u.deg, frame="galactic").icrs
    sep = SkyCoord(ra * u.deg, dec * u.deg).separation(ref).to_value(u.arcsec)
    assert sep < 1e-3, (ra, dec, ref)
    assert not math.isnan(ra)


def test_a_galactic_circle_is_searched_around_its_icrs_centre():
    sql = translate(
        "SELECT ra FROM s.t WHERE CONTAINS(POINT(ra, dec), CIRCLE('GALACTIC', 0, 0, 1)) = 1",
        {"s.t": {"ra": "double", "dec": "double"}},
    ).sql
    ra, dec = galactic_to_icrs(0, 0)
    assert f"Q3C_RADIAL_QUERY(t.ra, t.dec, {ra!r}, -{abs(dec)!r}, 1)" in sql
