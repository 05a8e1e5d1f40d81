"""Reader for Gaia DR3 XP continuous mean spectra (``xp_continuous_mean_spectrum``).

Data model: Gaia DR3 documentation section 20.12.3 -- one row per source, BP and RP
each as 55 Hermite-basis coefficients with errors and the 1485 (= 55*54/2) packed
off-diagonal correlations.  Containers: bulk ECSV ``XpContinuousMeanSpectrum_*.csv.gz``
(arrays as JSON ``"[...]"``), DataLink ``XP_CONTINUOUS`` in CSV (arrays as
``"(v1, v2, ...)"``), ECSV, FITS (variable-length array columns), VOTable, and the
DataLink ``.zip`` (its ``XP_CONTINUOUS*`` members are read, the others ignored).

A source without BP (or RP) has empty cells there: its arrays are all NaN, its
``*_n_relevant_bases`` masked; that is not an error.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from pathlib import Path

import numpy as np

from .chunks import Chunk
from .convert import build_columns, to_array
from .errors import ReadError
from .formats import iter_raw_chunks

N_COEFFICIENTS = 55
N_CORRELATIONS = N_COEFFICIENTS * (N_COEFFICIENTS - 1) // 2  # 1485

_SCALARS = {
    "source_id": "int",
    "bp_standard_deviation": "float",
    "rp_standard_deviation": "float",
    "bp_n_relevant_bases": "int",
    "rp_n_relevant_bases": "int",
}
# name -> (length, dtype); coefficients are double in the data model, the rest float.
_ARRAYS = {
    "bp_coefficients": (N_COEFFICIENTS, np.float64),
    "bp_coefficient_errors": (N_COEFFICIENTS, np.float32),
    "rp_coefficients": (N_COEFFICIENTS, np.float64),
    "rp_coefficient_errors": (N_COEFFICIENTS, np.float32),
    "bp_coefficient_correlations": (N_CORRELATIONS, np.float32),
    "rp_coefficient_correlations": (N_CORRELATIONS, np.float32),
}
_REQUIRED_ARRAYS = ("bp_coefficients", "rp_coefficients")


def iter_xp_continuous(
    path: str | Path, chunk_rows: int = 5000, skip_rows: Collection[int] = ()
) -> Iterator[Chunk]:
    """Stream XP continuous coefficients, at most ``chunk_rows`` sources per chunk.

    Columns: ``source_id``; ``bp/rp_coefficients`` (n, 55) float64;
    ``bp/rp_coefficient_errors`` (n, 55) float32; ``bp/rp_standard_deviation``;
    ``bp/rp_n_relevant_bases`` (int64, masked when absent); and
    ``bp/rp_coefficient_correlations`` (n, 1485) float32 when the file has them.
    """
    want = [*_SCALARS, *_ARRAYS]
    chunks = iter_raw_chunks(
        path,
        chunk_rows,
        want,
        ("xp_continuous",),
        arrays=_ARRAYS,
        skip_rows=skip_rows,
        required=("source_id", *_REQUIRED_ARRAYS),
    )
    for display, raw in chunks:
        columns, masks = build_columns(
            display, raw.columns, raw.first_row, _SCALARS, ("source_id",)
        )
        for name, (length, dtype) in _ARRAYS.items():
            if name not in raw.columns:
                if name in _REQUIRED_ARRAYS:
                    raise ReadError(display, "required column missing", field=name)
                continue
            columns[name] = to_array(raw.columns[name], display, raw.first_row, name, length, dtype)
        yield Chunk(display, raw.first_row, columns, masks)
