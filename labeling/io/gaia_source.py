"""Readers for the Gaia DR3 ``gaia_source`` and ``astrophysical_parameters`` tables.

Data model: Gaia DR3 documentation, chapter 20 (sections 20.1.1 gaia_source and
20.3.1 astrophysical_parameters).  Any container :mod:`labeling.io.formats` knows:
bulk ECSV (``GaiaSource_*.csv.gz``, ``AstrophysicalParameters_*.csv.gz``), plain
CSV, FITS, VOTable (column names are matched case-insensitively; the archive's
VOTables carry ``ID="SOURCE_ID"`` with ``name="source_id"``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from pathlib import Path

from .chunks import Chunk
from .convert import build_columns
from .formats import iter_raw_chunks

# Columns kept, with their kind.  Floats come back as float64 (NaN = missing);
# ints/bools/strings as int64/bool/str with Chunk.masks flagging missing values.
GAIA_SOURCE_COLUMNS: dict[str, str] = {
    "source_id": "int",
    "ra": "float",
    "dec": "float",
    "parallax": "float",
    "parallax_error": "float",
    "phot_g_mean_mag": "float",
    "phot_bp_mean_mag": "float",
    "phot_rp_mean_mag": "float",
    "phot_g_mean_flux_over_error": "float",
    "phot_bp_mean_flux_over_error": "float",
    "phot_rp_mean_flux_over_error": "float",
    "ruwe": "float",
    "rvs_spec_sig_to_noise": "float",
    "radial_velocity": "float",
    "radial_velocity_error": "float",
    "non_single_star": "int",
    "phot_variable_flag": "str",
    "in_qso_candidates": "bool",
    "in_galaxy_candidates": "bool",
    "has_xp_continuous": "bool",
    # Not a gaia_source column (it is in astrophysical_parameters), but kept when a
    # joined export carries it.
    "classlabel_espels": "str",
}
GAIA_SOURCE_REQUIRED = ("source_id", "ra", "dec")

ASTROPHYSICAL_PARAMETERS_COLUMNS: dict[str, str] = {
    "source_id": "int",
    "classlabel_espels": "str",
}


def iter_gaia_source(
    path: str | Path, chunk_rows: int = 5000, skip_rows: Collection[int] = ()
) -> Iterator[Chunk]:
    """Stream gaia_source rows in chunks of at most ``chunk_rows``.

    Keeps the columns of :data:`GAIA_SOURCE_COLUMNS` that the file has; optional
    columns the file lacks are absent from the chunks.  ``source_id``, ``ra`` and
    ``dec`` are required (column and values).
    """
    chunks = iter_raw_chunks(
        path, chunk_rows, GAIA_SOURCE_COLUMNS, skip_rows=skip_rows, required=GAIA_SOURCE_REQUIRED
    )
    for display, raw in chunks:
        columns, masks = build_columns(
            display, raw.columns, raw.first_row, GAIA_SOURCE_COLUMNS, GAIA_SOURCE_REQUIRED
        )
        yield Chunk(display, raw.first_row, columns, masks)


def iter_astrophysical_parameters(
    path: str | Path, chunk_rows: int = 5000, skip_rows: Collection[int] = ()
) -> Iterator[Chunk]:
    """Stream astrophysical_parameters rows: ``source_id`` and ``classlabel_espels``.

    ``classlabel_espels`` (ESP-ELS class label, null for most sources) is optional;
    a missing label is "" with ``masks["classlabel_espels"]`` set.
    """
    spec = ASTROPHYSICAL_PARAMETERS_COLUMNS
    chunks = iter_raw_chunks(path, chunk_rows, spec, skip_rows=skip_rows, required=("source_id",))
    for display, raw in chunks:
        columns, masks = build_columns(display, raw.columns, raw.first_row, spec, ("source_id",))
        yield Chunk(display, raw.first_row, columns, masks)
