"""Simple Cone Search at /scs against the real web service: pyvo's SCSService, the SCS UCDs,
VERB, MAXREC, votlint, and DALI errors for missing or out-of-range parameters."""

import io
import math
import subprocess

import pytest
from astropy.io.votable import parse

from .conftest import RVS_STARS
from .test_products import get

pytestmark = pytest.mark.django_db(transaction=True)


def separation(ra1, dec1, ra2, dec2) -> float:
    """Degrees between two points (haversine)."""
    r1, d1, r2, d2 = map(math.radians, (ra1, dec1, ra2, dec2))
    h = math.sin((d2 - d1) / 2) ** 2 + math.cos(d1) * math.cos(d2) * math.sin((r2 - r1) / 2) ** 2
    return math.degrees(2 * math.asin(math.sqrt(h)))


def labelled_positions(catalogue) -> dict[int, tuple[float, float]]:
    return {sid: catalogue[sid] for sid in RVS_STARS.values()}


def test_pyvo_cone_returns_the_stars_inside(web_service, catalogue):
    import pyvo

    service = pyvo.dal.SCSService(f"{web_service}/scs")
    stars = labelled_positions(catalogue)
    for ra, dec in stars.values():
        for radius in (0.001, 5.0, 60.0):
            result = service.search(pos=(ra, dec), radius=radius)
            expected = {s for s, (r, d) in stars.items() if separation(ra, dec, r, d) <= radius}
            assert {int(s) for s in result["source_id"]} == expected, (ra, dec, radius)
    everything = service.search(pos=(0, 0), radius=180)
    assert len(everything) == len(stars)  # only labelled stars: XP-only sources are not in it


def test_scs_fields_carry_the_scs_ucds_and_verb_selects_columns(web_service, catalogue):
    ra, dec = catalogue[RVS_STARS["gaiaspec_HD176650.csv"]]
    widths = {}
    for verb in (1, 2, 3):
        status, headers, body = get(f"{web_service}/scs?RA={ra}&DEC={dec}&SR=0.01&VERB={verb}")
        assert status == 200 and headers["Content-Type"].startswith("application/x-votable+xml")
        table = parse(io.BytesIO(body)).get_first_table()
        ucds = {f.name: f.ucd for f in table.fields}
        assert (ucds["source_id"], ucds["ra"], ucds["dec"]) == (
            "ID_MAIN",
            "POS_EQ_RA_MAIN",
            "POS_EQ_DEC_MAIN",
        )
        assert len(table.array) == 1
        widths[verb] = len(table.fields)
    assert widths[1] == 3 < widths[2] < widths[3]


def test_maxrec_marks_overflow(web_service, catalogue):
    status, _, body = get(f"{web_service}/scs?RA=0&DEC=0&SR=180&MAXREC=2")
    assert status == 200 and b'value="OVERFLOW"' in body
    assert len(parse(io.BytesIO(body)).get_first_table().array) == 2


@pytest.mark.parametrize(
    "query, words",
    [
        ("RA=10&DEC=10", b"SR is required"),
        ("DEC=10&SR=1", b"RA is required"),
        ("RA=10&DEC=10&SR=181", b"SR="),
        ("RA=10&DEC=10&SR=-1", b"SR="),
        ("RA=10&DEC=95&SR=1", b"DEC="),
        ("RA=400&DEC=0&SR=1", b"RA="),
        ("RA=abc&DEC=0&SR=1", b"RA="),
        ("RA=nan&DEC=0&SR=1", b"RA="),
        ("RA=1&DEC=0&SR=1&VERB=7", b"VERB="),
        ("RA=1&DEC=0&SR=1&MAXREC=-3", b"MAXREC="),
    ],
)
def test_bad_parameters_are_dali_errors(web_service, catalogue, query, words):
    status, _, body = get(f"{web_service}/scs?{query}")
    assert status == 400, body[:300]
    assert b'name="QUERY_STATUS" value="ERROR"' in body and words in body


def votlint_errors(path) -> list[str]:
    out = subprocess.run(
        ["stilts", "votlint", f"votable={path}"], capture_output=True, text=True, timeout=120
    )
    report = out.stdout + out.stderr
    print(report)
    return [line for line in report.splitlines() if line.upper().startswith("ERROR")]


def test_votlint_reports_no_errors_on_scs(web_service, catalogue, tmp_path):
    ra, dec = catalogue[RVS_STARS["gaiaspec_Kepler-93.csv"]]
    for verb in (1, 2, 3):
        assert votlint_errors(f"{web_service}/scs?RA={ra}&DEC={dec}&SR=30&VERB={verb}") == []
    status, _, body = get(f"{web_service}/scs?RA=1&DEC=0")  # a DALI error document (HTTP 400)
    (tmp_path / "error.vot").write_bytes(body)
    assert status == 400 and votlint_errors(tmp_path / "error.vot") == []
