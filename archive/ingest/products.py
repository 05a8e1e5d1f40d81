"""What each ingestible product is: its reader, target table, key and column mapping.

Configuration as data: the runner (``runner.py``) is the same for every product.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

from django.contrib.postgres.fields import ArrayField
from django.db import models

from archive.catalogue.models import GaiaSource, RvsSpectrum, XpCoefficients
from labeling import io

# called as reader(path, skip_rows=...): every labeling.io reader takes rows to leave out
Reader = Callable[..., Iterator[io.Chunk]]


@dataclass(frozen=True)
class Field:
    """A file column loaded into a table column."""

    source: str  # name in the reader's chunk (the data model's name)
    column: str  # name in the table
    pgtype: str  # int8, int2, float8, bool, text, float8[]
    required: bool = False  # a missing value rejects the row


@dataclass(frozen=True)
class Product:
    name: str  # as typed on the command line
    reader: Reader
    table: str
    key: tuple[str, ...]  # table columns identifying a row (the upsert's conflict target)
    fields: tuple[Field, ...]
    needs_known_source: bool = False  # every source_id must already be in gaia_source
    update_only: bool = False  # updates existing rows, never inserts
    #: the file's flux goes to the spectrum store; the row holds its reference (RVS)
    stores_spectra: bool = False
    #: files at least this big are parsed in a child process (labeling.io.iter_in_process)
    #: while the ingest stores and COPYs; None: always in process
    parse_in_process_bytes: int | None = None
    #: file columns (reader names) that may be absent: neither the CNN, the selection nor the
    #: published catalogue needs them. Every other field must be a column of the file; a file
    #: without one is refused, naming them all. Absent optional columns are reported.
    optional: tuple[str, ...] = ()
    #: header entries that stand in for a column (the DataLink per-pixel RVS VOTable gives
    #: source_id as a PARAM)
    param_columns: tuple[str, ...] = ()
    #: further required file columns that are no table column (RVS flux: the spectrum store)
    store_columns: tuple[str, ...] = ()
    #: a DataLink zip's members read for this product (labeling.io member name prefixes)
    member_prefixes: tuple[str, ...] = ()

    def field(self, column: str) -> Field:
        return next(f for f in self.fields if f.column == column)

    @property
    def required_columns(self) -> tuple[str, ...]:
        """File columns the product cannot do without."""
        fields = tuple(f.source for f in self.fields if f.source not in self.optional)
        return fields + self.store_columns

    @property
    def data_columns(self) -> tuple[str, ...]:
        """Table columns an ingest writes besides the key."""
        return tuple(f.column for f in self.fields if f.column not in self.key)

    def read(self, path: str | Path, skip_rows: Collection[int] = ()) -> Iterator[io.Chunk]:
        """The file's chunks, from a child process when it is big enough."""
        big = self.parse_in_process_bytes
        if big is not None and os.path.getsize(path) >= big:
            return io.iter_in_process(self.reader, path, skip_rows=skip_rows)
        return self.reader(path, skip_rows=skip_rows)


_PGTYPES = {
    "BigIntegerField": "int8",
    "IntegerField": "int4",
    "SmallIntegerField": "int2",
    "FloatField": "float8",
    "BooleanField": "bool",
    "CharField": "text",
    "ForeignKey": "int8",
    "OneToOneField": "int8",
}


def model_fields(
    model: type[models.Model], *, required: Collection[str] = (), exclude: Collection[str] = ()
) -> tuple[Field, ...]:
    """The model's columns, loaded from the file columns of the same names (the Gaia data
    model's, which the tables keep): the column list is the model's, not retyped here."""
    out = []
    for f in model._meta.concrete_fields:
        if f.column in exclude:
            continue
        pgtype = "float8[]" if isinstance(f, ArrayField) else _PGTYPES[f.get_internal_type()]
        out.append(Field(f.column, f.column, pgtype, required=f.column in required))
    return tuple(out)


GAIA_SOURCE = Product(
    name="gaia-source",
    reader=io.iter_gaia_source,
    table="gaia_source",
    key=("source_id",),
    fields=model_fields(GaiaSource, required=("source_id", "ra", "dec")),
    # the rest feed the CNN (photometry, parallax: Sect. 3.1), the selection (Sect. 2.1-2.5)
    # or the published catalogue (ra, dec); radial velocities are kept when a file has them,
    # and classlabel_espels is astrophysical_parameters' column (astrophysical-parameters)
    optional=("radial_velocity", "radial_velocity_error", "classlabel_espels"),
)

ASTROPHYSICAL_PARAMETERS = Product(
    name="astrophysical-parameters",
    reader=io.iter_astrophysical_parameters,
    table="gaia_source",
    key=("source_id",),
    fields=(
        Field("source_id", "source_id", "int8", required=True),
        Field("classlabel_espels", "classlabel_espels", "text"),
    ),
    needs_known_source=True,
    update_only=True,
)

XP_CONTINUOUS = Product(
    name="xp-continuous",
    reader=io.iter_xp_continuous,
    table="xp_coefficients",
    key=("source_id",),
    fields=model_fields(XpCoefficients, required=("source_id",)),
    needs_known_source=True,
    # the CNN reads the 55 + 55 coefficients only (Sect. 3.1); the rest is served as the XP
    # DataLink product (the correlations are absent from some reduced files)
    optional=(
        "bp_coefficient_errors",
        "rp_coefficient_errors",
        "bp_coefficient_correlations",
        "rp_coefficient_correlations",
        "bp_standard_deviation",
        "rp_standard_deviation",
        "bp_n_relevant_bases",
        "rp_n_relevant_bases",
    ),
    member_prefixes=("xp_continuous",),
)

APOGEE = Product(
    name="apogee",
    reader=io.iter_apogee_allstar,
    table="apogee_label",
    key=("apogee_id", "telescope", "field"),
    fields=(
        Field("APOGEE_ID", "apogee_id", "text", required=True),
        Field("TELESCOPE", "telescope", "text", required=True),
        Field("FIELD", "field", "text", required=True),
        Field("GAIAEDR3_SOURCE_ID", "source_id", "int8", required=True),
        *(Field(name, name.lower(), "float8") for name in io.ALLSTAR_FLOATS),
        Field("ASPCAPFLAG", "aspcapflag", "int8", required=True),
        Field("FE_H_FLAG", "fe_h_flag", "int4", required=True),
    ),
)

# RVS spectra: the flux goes to the spectrum store; the table row holds the reference.
RVS_SPECTRA = Product(
    name="rvs-spectra",
    reader=io.iter_rvs_spectra,
    table="rvs_spectrum",
    key=("source_id",),
    # the store's reference, the NaN count and the hash are the ingest's own, not the file's
    fields=model_fields(
        RvsSpectrum,
        required=("source_id",),
        exclude=("store_array", "store_row", "n_nan_pixels", "content_hash"),
    ),
    needs_known_source=True,
    # counts of transits and CCDs: provenance, not used by the CNN or the selection
    optional=("combined_transits", "combined_ccds", "deblended_ccds"),
    param_columns=("source_id",),
    store_columns=("flux", "flux_error"),
    member_prefixes=("rvs",),
    stores_spectra=True,
    # a spawned interpreter costs about a second; a bulk file of 1 000 spectra is ~25 MB, and
    # parsing it costs as much as storing it (docs/benchmarks.md)
    parse_in_process_bytes=25 * 2**20,
)

PRODUCTS = {
    p.name: p for p in (GAIA_SOURCE, ASTROPHYSICAL_PARAMETERS, RVS_SPECTRA, XP_CONTINUOUS, APOGEE)
}
