"""VO metadata carried by every catalogue column: unit, UCD and a one-line description.

These become TAP_SCHEMA.columns (unit, ucd, description) and VOTable FIELD attributes, so they
are written once, on the model field, in IVOA VOUnit and UCD1+ vocabulary.
"""

from dataclasses import dataclass
from typing import TypeVar

from django.db import models

F = TypeVar("F", bound=models.Field)


@dataclass(frozen=True)
class VOColumn:
    unit: str
    ucd: str
    description: str


def vo(field: F, *, unit: str = "", ucd: str, description: str) -> F:
    """Attach VO metadata to a model field; the description is also the column comment."""
    field.vo = VOColumn(unit=unit, ucd=ucd, description=description)
    field.help_text = description
    field.db_comment = description
    return field


def vo_columns(model: type[models.Model]) -> dict[str, VOColumn]:
    """Column name → VO metadata for the concrete fields of ``model``."""
    return {f.column: f.vo for f in model._meta.concrete_fields if hasattr(f, "vo")}


def gaia_vo(product: dict[str, tuple], name: str, field: F, *, description: str) -> F:
    """VO metadata of a Gaia DR3 column: unit and UCD as the Gaia data model has them
    (``labeling.io.gaia_schema``, what the Gaia archive serves), our own description."""
    _, unit, _, ucd = product[name][:4]
    return vo(field, unit=unit or "", ucd=ucd, description=description)
