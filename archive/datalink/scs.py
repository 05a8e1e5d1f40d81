"""Simple Cone Search 1.1 on the published catalogue: RA, DEC, SR in degrees (ICRS), VERB 1-3,
MAXREC; rows found by q3c on the sky index of gaia_source, streamed as VOTable.

SCS requires the UCD1 words ID_MAIN, POS_EQ_RA_MAIN and POS_EQ_DEC_MAIN on the identifier and
position fields; the other fields keep the registry's UCD1+ metadata.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from django.conf import settings

from archive.errors import BadParameter, UsageError
from archive.metadata.fields import VOField
from archive.metadata.published import registry
from archive.results.stream import parse_maxrec

TABLE = "rvs_cnn"
SCS_UCDS = {"source_id": "ID_MAIN", "ra": "POS_EQ_RA_MAIN", "dec": "POS_EQ_DEC_MAIN"}
MAXREC_DEFAULT = 100_000
MAXREC_LIMIT = 2_000_000


@dataclass(frozen=True)
class Cone:
    ra: float
    dec: float
    sr: float
    verb: int
    maxrec: int | None


def _number(params: dict[str, str], name: str, low: float, high: float) -> float:
    if name not in params or not params[name].strip():
        raise UsageError(f"{name} is required (degrees, {low:g} to {high:g})")
    try:
        value = float(params[name])
    except ValueError:
        expected = f"a number of degrees, {low:g} to {high:g}"
        raise BadParameter(name, params[name], expected) from None
    if not math.isfinite(value) or not low <= value <= high:
        raise BadParameter(name, params[name], f"degrees from {low:g} to {high:g}")
    return value


def parse(params: dict[str, str]) -> Cone:
    """The cone a request asks for (parameter names upper-cased), or a UsageError."""
    ra = _number(params, "RA", 0.0, 360.0)
    dec = _number(params, "DEC", -90.0, 90.0)
    sr = _number(params, "SR", 0.0, 180.0)
    verb = params.get("VERB", "2").strip() or "2"
    if verb not in ("1", "2", "3"):
        raise BadParameter("VERB", verb, "1 (id and position), 2 (principal columns) or 3 (all)")
    maxrec = parse_maxrec(params.get("MAXREC"), MAXREC_DEFAULT, MAXREC_LIMIT)
    return Cone(ra, dec, sr, int(verb), maxrec)


def fields(verb: int) -> list[VOField]:
    """The result's fields at VERB 1, 2 or 3, with the SCS UCDs."""
    table = registry().table(f"{settings.PUBLISHED_SCHEMA}.{TABLE}")
    if verb == 1:
        columns = [c for c in table.columns if c.name in SCS_UCDS]
    elif verb == 2:
        columns = [c for c in table.columns if c.principal or c.name in SCS_UCDS]
    else:
        columns = list(table.columns)
    return [
        replace(c.field, ucd=SCS_UCDS[c.name]) if c.name in SCS_UCDS else c.field for c in columns
    ]


def sql(cone: Cone, selected: list[VOField]) -> str:
    """The query (numbers only are interpolated, checked finite by :func:`parse`)."""
    names = ", ".join(f'"{f.name}"' for f in selected)
    return (
        f"SELECT {names} FROM {settings.PUBLISHED_SCHEMA}.{TABLE} "
        f"WHERE q3c_radial_query(ra, dec, {cone.ra!r}, {cone.dec!r}, {cone.sr!r})"
    )
