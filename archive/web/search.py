"""The search form's query, as ADQL: one way to query, the TAP service's.

A search is a ``Search`` (what the form cleaned); ``adql`` writes it as the query a user could
type on the query page (the "show as ADQL" button shows exactly that), and the result table,
its count and every download run that ADQL through the TAP service's translator.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings

from labeling.flags import CLEAN_FLAG, FLAG_DIGITS
from labeling.labels import BY_NAME, LABEL_SPECS, LABELS, Label, format_error, format_label


@dataclass(frozen=True)
class Quantity:
    """A column the form can filter, sort or show: its ADQL, label and unit (as people read
    it); ``of_label`` names the CNN label a value or error belongs to, for rounding."""

    name: str
    expr: str  # ADQL over r (rvs_cnn) and g (gaia_source)
    label: str
    unit: str = ""
    of_label: str = ""
    error: bool = False

    @property
    def needs_gaia(self) -> bool:
        return self.expr.startswith("g.")

    def shown(self, value: float) -> str:
        """A number of this column as the page shows it: labels to their precision, errors
        to two significant digits (files and TAP keep every digit)."""
        if self.of_label in BY_NAME:
            return format_error(value) if self.error else format_label(self.of_label, value)
        return f"{value:.6g}"


def quantities(labels: tuple[Label, ...] = LABEL_SPECS) -> dict[str, Quantity]:
    """Every column of the form, the labels' from their declaration."""
    q = [
        Quantity("source_id", "r.source_id", "source_id"),
        Quantity("ra", "r.ra", "RA", "deg"),
        Quantity("dec", "r.dec", "Dec", "deg"),
    ]
    q += [Quantity(x.name, f"r.{x.name}", x.display, x.unit, x.name) for x in labels]
    q += [
        Quantity(f"e_{x.name}", f"r.e_{x.name}", f"e {x.display}", x.unit, x.name, True)
        for x in labels
    ]
    q += [
        Quantity(f"sigma_{x.name}", f"r.sigma_{x.name}", f"σ {x.display}", x.unit, x.name, True)
        for x in labels
    ]
    q += [
        Quantity("flag_boundary", "r.flag_boundary", "flag_boundary"),
        Quantity("rvs_spec_sig_to_noise", "g.rvs_spec_sig_to_noise", "RVS S/N"),
        Quantity("phot_g_mean_mag", "g.phot_g_mean_mag", "G", "mag"),
        Quantity("parallax", "g.parallax", "parallax", "mas"),
        Quantity("model_version", "r.model_version", "model version"),
    ]
    return {x.name: x for x in q}


def range_names(labels: tuple[Label, ...] = LABEL_SPECS) -> tuple[str, ...]:
    """What a range filter may bound (the form shows a min and a max for each)."""
    return (
        *(x.name for x in labels),
        *(f"sigma_{x.name}" for x in labels),
        "rvs_spec_sig_to_noise",
        "phot_g_mean_mag",
        "parallax",
    )


def bounds(labels: tuple[Label, ...] = LABEL_SPECS) -> dict[str, tuple[float, float]]:
    """The plausible bounds of each range, to catch a typo (e.g. Teff in dex)."""
    return {
        **{x.name: x.plausible for x in labels},
        "rvs_spec_sig_to_noise": (0.0, 10000.0),
        "phot_g_mean_mag": (-2.0, 25.0),
        "parallax": (-1000.0, 1000.0),
    }


QUANTITIES: dict[str, Quantity] = quantities()
RANGE_NAMES: tuple[str, ...] = range_names()
DEFAULT_COLUMNS: tuple[str, ...] = (
    "source_id",
    "ra",
    "dec",
    *LABELS,
    *(f"sigma_{k}" for k in LABELS),
    "flag_boundary",
)
SORT_DIRECTIONS = ("asc", "desc")
#: a search counts its rows up to this many: an exact count of a large share of a 1e6-row
#: catalogue costs the database most of a second, and a person pages the first ones
COUNT_CAP = 100_000


@dataclass(frozen=True)
class Cone:
    ra: float  # deg
    dec: float  # deg
    radius: float  # deg


@dataclass(frozen=True)
class Search:
    """A cleaned search: every field already checked by ``forms.SearchForm``."""

    source_ids: tuple[int, ...] = ()
    cone: Cone | None = None
    ranges: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    #: digit positions that must be 0 (all eight: the paper's recommended sample)
    clean_digits: tuple[int, ...] = ()
    columns: tuple[str, ...] = DEFAULT_COLUMNS
    sort: str = "source_id"
    direction: str = "asc"

    @property
    def needs_gaia(self) -> bool:
        used = [*self.columns, self.sort, *(k for k, (lo, hi) in self.ranges.items())]
        return any(QUANTITIES[n].needs_gaia for n in used)

    def conditions(self) -> list[str]:
        where: list[str] = []
        if self.source_ids:
            if len(self.source_ids) == 1:
                where.append(f"r.source_id = {self.source_ids[0]}")
            else:
                where.append(f"r.source_id IN ({', '.join(map(str, self.source_ids))})")
        if self.cone is not None:
            c = self.cone
            where.append(
                "1 = CONTAINS(POINT('ICRS', r.ra, r.dec), "
                f"CIRCLE('ICRS', {c.ra!r}, {c.dec!r}, {c.radius!r}))"
            )
        for name, (lo, hi) in self.ranges.items():
            expr = QUANTITIES[name].expr
            if lo is not None and hi is not None:
                where.append(f"{expr} BETWEEN {lo!r} AND {hi!r}")
            elif lo is not None:
                where.append(f"{expr} >= {lo!r}")
            elif hi is not None:
                where.append(f"{expr} <= {hi!r}")
        if len(self.clean_digits) == len(FLAG_DIGITS):
            where.append(f"r.flag_boundary = '{CLEAN_FLAG}'")
        elif self.clean_digits:
            pattern = "".join(
                "0" if i in self.clean_digits else "_" for i in range(len(FLAG_DIGITS))
            )
            where.append(f"r.flag_boundary LIKE '{pattern}'")
        return where

    def from_clause(self) -> str:
        schema = settings.PUBLISHED_SCHEMA
        sql = f"FROM {schema}.rvs_cnn AS r"
        if self.needs_gaia:
            sql += f"\nJOIN {schema}.gaia_source AS g ON g.source_id = r.source_id"
        return sql

    def where_clause(self) -> str:
        where = self.conditions()
        return ("\nWHERE " + "\n  AND ".join(where)) if where else ""

    def adql(self, *, top: int | None = None, offset: int | None = None) -> str:
        """The search as ADQL, sorted (source_id breaks ties, so pages never overlap)."""
        select = ", ".join(QUANTITIES[c].expr for c in self.columns)
        head = f"SELECT TOP {top} " if top is not None else "SELECT "
        order = f"{QUANTITIES[self.sort].expr} {self.direction.upper()}"
        if self.sort != "source_id":
            order += ", r.source_id ASC"
        sql = f"{head}{select}\n{self.from_clause()}{self.where_clause()}\nORDER BY {order}"
        if offset:
            sql += f"\nOFFSET {offset}"
        return sql

    def count_adql(self, cap: int = COUNT_CAP) -> str:
        """Rows matched, counted up to ``cap`` + 1 (beyond it the page says "more than")."""
        inner = f"SELECT TOP {cap + 1} r.source_id\n{self.from_clause()}{self.where_clause()}"
        return f"SELECT COUNT(*) AS n FROM (\n{inner}\n) AS c"
