"""Row counts of the catalogue tables for the home page and status displays."""

from django.db import connection
from django.db.models import Model

from .models import ApogeeLabel, CnnLabel, GaiaSource, ModelVersion, RvsSpectrum, XpCoefficients

# Above this many rows (by the planner's estimate) an exact count(*) costs seconds at DR4 scale,
# so the estimate is shown instead.
EXACT_COUNT_LIMIT = 2_000_000


def estimated_rows(model: type[Model]) -> int:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
            [model._meta.db_table],
        )
        row = cur.fetchone()
    return max(row[0], 0) if row else 0


def table_count(model: type[Model]) -> tuple[int, bool]:
    """(rows, exact): exact count(*) for small tables, the planner's estimate for large ones."""
    estimate = estimated_rows(model)
    if estimate > EXACT_COUNT_LIMIT:
        return estimate, False
    return model.objects.count(), True


def catalogue_counts() -> list[dict]:
    """Counts shown on the home page, in display order."""
    items = [
        ("Gaia DR3 sources", GaiaSource),
        ("RVS spectra", RvsSpectrum),
        ("XP coefficient sets", XpCoefficients),
        ("APOGEE DR17 labels", ApogeeLabel),
        ("Model versions", ModelVersion),
        ("CNN label rows", CnnLabel),
    ]
    out = []
    for label, model in items:
        rows, exact = table_count(model)
        out.append({"label": label, "table": model._meta.db_table, "rows": rows, "exact": exact})
    return out


def published_version() -> ModelVersion | None:
    return ModelVersion.objects.published().first()
