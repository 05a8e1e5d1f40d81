"""Reader for the APOGEE DR17 ``allStar`` catalogue (FITS binary table, HDU 1).

Data model: SDSS DR17 ``allStar`` (APOGEE_ASPCAP/…/allStar-dr17-synspec_rev1.fits,
https://data.sdss.org/datamodel/files/APOGEE_ASPCAP/APRED_VERS/ASPCAP_VERS/allStar.html).
The real file is several GB with hundreds of columns: it is memory-mapped and only
the needed columns are read, one row slice at a time.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from pathlib import Path

import numpy as np

from ..labels import LABEL_SPECS
from .chunks import Chunk
from .convert import build_columns
from .formats import iter_raw_chunks

ALLSTAR_COLUMNS: dict[str, str] = {
    "APOGEE_ID": "str",
    "TELESCOPE": "str",
    "FIELD": "str",
    "GAIAEDR3_SOURCE_ID": "int",
    # each label and its error, as labeling.labels declares them
    **{c: "float" for x in LABEL_SPECS for c in (x.apogee_column, x.apogee_error_column)},
    "ASPCAPFLAG": "int",
    "ASPCAP_CHI2": "float",
    "FE_H_FLAG": "int",
    "SNR": "float",
}
#: the float columns of allStar (what the ingest loads as float8 and the selection reads)
ALLSTAR_FLOATS: tuple[str, ...] = tuple(k for k, kind in ALLSTAR_COLUMNS.items() if kind == "float")
# APOGEE's "no value" sentinel (DR16 and older; DR17 mostly uses NaN).
_SENTINEL = -9999.0


def iter_apogee_allstar(
    path: str | Path, chunk_rows: int = 5000, skip_rows: Collection[int] = ()
) -> Iterator[Chunk]:
    """Stream the allStar columns of :data:`ALLSTAR_COLUMNS` (all required).

    Floats: float64 with NaN for NaN or the -9999 sentinel.  ``GAIAEDR3_SOURCE_ID``
    values <= 0 (no Gaia match) are 0 with ``masks["GAIAEDR3_SOURCE_ID"]`` set.
    Strings are stripped of FITS padding.
    """
    spec = {k.lower(): v for k, v in ALLSTAR_COLUMNS.items()}
    names = {k.lower(): k for k in ALLSTAR_COLUMNS}
    chunks = iter_raw_chunks(
        path, chunk_rows, spec, skip_rows=skip_rows, required=tuple(ALLSTAR_COLUMNS)
    )
    for display, raw in chunks:
        columns, masks = build_columns(
            display, raw.columns, raw.first_row, spec, tuple(spec), out_names=names, no_missing=()
        )
        for name, kind in ALLSTAR_COLUMNS.items():
            if kind == "float":
                values = columns[name]
                values[values <= _SENTINEL + 0.5] = np.nan
        sid = columns["GAIAEDR3_SOURCE_ID"]
        no_match = sid <= 0
        if no_match.any():
            sid[no_match] = 0
            masks["GAIAEDR3_SOURCE_ID"] = masks.get("GAIAEDR3_SOURCE_ID", no_match) | no_match
        yield Chunk(display, raw.first_row, columns, masks)
