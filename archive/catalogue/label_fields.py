"""The label columns of the catalogue's models, derived from the labels' declaration.

``labeling.labels.LABEL_SPECS`` names each label once (unit, UCD, APOGEE column, words);
``labeling.flags.FLAG_DIGITS`` the digits of flag_boundary. The models inherit their label
columns from :func:`columns` over the dicts below, so a sixth label or a ninth digit is one
declaration plus ``manage.py makemigrations`` (and ``manage.py metadata makemigration``).
"""

from __future__ import annotations

import numpy as np
from django.db import models

from labeling.flags import FLAG_DIGITS, FlagDigit, flag_description
from labeling.labels import LABEL_SPECS, STORAGE_DTYPE, Label

from .vo import vo

#: the policy for labels beyond the training sample (docs/science.md): values as the network
#: gives them, and every description of a label says so
EXTRAPOLATION = "an extrapolation where its flag_boundary digit is 1"


class RealField(models.FloatField):
    """A float32 column (PostgreSQL ``real``, VOTable ``float``)."""

    description = "Single-precision floating point number"

    def db_type(self, connection) -> str:
        return "real"


#: how ``labeling.labels.STORAGE_DTYPE`` is stored: the model field and the binary COPY type
_STORAGE = {
    np.dtype("float64"): (models.FloatField, "float8"),
    np.dtype("float32"): (RealField, "float4"),
}


def _storage() -> tuple[type[models.Field], str]:
    if STORAGE_DTYPE not in _STORAGE:
        raise TypeError(f"no database column type for labels stored as {STORAGE_DTYPE}")
    return _STORAGE[STORAGE_DTYPE]


def storage_field(**options) -> models.Field:
    """A column holding a CNN label or error as ``labeling.labels.STORAGE_DTYPE``."""
    return _storage()[0](**options)


def storage_pgtype() -> str:
    """The COPY type the label writer sends a label or error column as."""
    return _storage()[1]


def _value(field: models.Field, x: Label, description: str) -> models.Field:
    return vo(field, unit=x.vounit, ucd=x.ucd, description=description)


def _error(field: models.Field, x: Label, description: str) -> models.Field:
    return vo(field, unit=x.vounit, ucd=x.error_ucd, description=description)


def apogee_label_fields(labels: tuple[Label, ...] = LABEL_SPECS) -> dict[str, models.Field]:
    """ApogeeLabel: each allStar label column and its ``_ERR`` as ingested."""
    out: dict[str, models.Field] = {}
    for x in labels:
        out[x.name] = _value(
            models.FloatField(null=True), x, f"ASPCAP {x.quantity} ({x.apogee_column})"
        )
        out[f"{x.name}_err"] = _error(models.FloatField(null=True), x, x.apogee_error_column)
    return out


def cnn_label_fields(
    labels: tuple[Label, ...] = LABEL_SPECS, digits: tuple[FlagDigit, ...] = FLAG_DIGITS
) -> dict[str, models.Field]:
    """CnnLabel: Table 2's block — the labels, their e_* and sigma_*, and flag_boundary."""
    out: dict[str, models.Field] = {}
    for x in labels:
        out[x.name] = _value(
            storage_field(), x, f"{x.quantity[0].upper()}{x.quantity[1:]}, ensemble mean; "
            f"{EXTRAPOLATION}",
        )  # fmt: skip
    for x in labels:
        out[f"e_{x.name}"] = _error(
            storage_field(), x, f"Model-to-model standard deviation of {x.symbol}"
        )
    for x in labels:
        out[f"sigma_{x.name}"] = _error(
            storage_field(),
            x,
            f"Total uncertainty of {x.symbol}: e_{x.name} and running dispersion, calibrated",
        )
    out["flag_boundary"] = vo(
        # "C": byte comparison, so equality, sorting and its index need no locale rules
        models.CharField(max_length=len(digits), db_collation="C"),
        ucd="meta.code.qual",
        description=flag_description(digits),
    )
    return out


def training_star_fields(labels: tuple[Label, ...] = LABEL_SPECS) -> dict[str, models.Field]:
    """TrainingStar: the APOGEE DR17 labels a version was trained on, and their errors."""
    out: dict[str, models.Field] = {}
    for x in labels:
        out[f"apogee_{x.name}"] = _value(
            models.FloatField(), x, f"APOGEE DR17 {x.quantity} the CNN was trained on"
        )
    for x in labels:
        out[f"apogee_e_{x.name}"] = _error(
            models.FloatField(null=True), x, f"Uncertainty of the APOGEE {x.symbol}"
        )
    return out


def columns(name: str, fields: dict[str, models.Field]) -> type[models.Model]:
    """An abstract model holding ``fields``: the concrete model that inherits it has them."""
    meta = type("Meta", (), {"abstract": True})
    return type(name, (models.Model,), {"__module__": __name__, "Meta": meta, **fields})
