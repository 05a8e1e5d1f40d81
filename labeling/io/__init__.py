"""Streaming readers (and bulk-format writers) for the real survey products.

Gaia DR3 ``gaia_source``, ``astrophysical_parameters``, ``rvs_mean_spectrum`` and
``xp_continuous_mean_spectrum`` in the bulk-download ECSV and the archive / DataLink
containers (CSV, ECSV, FITS, VOTable, DataLink zip), and the APOGEE DR17 ``allStar``
FITS catalogue.  Readers yield :class:`Chunk` objects of bounded size, so memory
stays flat whatever the file size; every problem is a :class:`ReadError` naming
file, row and field.
"""

from .apogee import ALLSTAR_COLUMNS, ALLSTAR_FLOATS, iter_apogee_allstar
from .chunks import Chunk
from .errors import ReadError
from .formats import FORMATS, TableHeader, detect_format, read_header
from .gaia_source import (
    ASTROPHYSICAL_PARAMETERS_COLUMNS,
    GAIA_SOURCE_COLUMNS,
    iter_astrophysical_parameters,
    iter_gaia_source,
)
from .process import iter_in_process
from .rvs import N_PIXELS, iter_rvs_spectra, read_rvs_wavelength
from .writers import BULK_PRODUCTS, BulkWriter, open_bulk_writer, write_allstar
from .xp import N_COEFFICIENTS, N_CORRELATIONS, iter_xp_continuous

__all__ = [
    "ALLSTAR_COLUMNS",
    "ALLSTAR_FLOATS",
    "ASTROPHYSICAL_PARAMETERS_COLUMNS",
    "BULK_PRODUCTS",
    "FORMATS",
    "GAIA_SOURCE_COLUMNS",
    "N_COEFFICIENTS",
    "N_CORRELATIONS",
    "N_PIXELS",
    "BulkWriter",
    "TableHeader",
    "Chunk",
    "ReadError",
    "detect_format",
    "iter_apogee_allstar",
    "iter_astrophysical_parameters",
    "iter_gaia_source",
    "iter_in_process",
    "iter_rvs_spectra",
    "iter_xp_continuous",
    "open_bulk_writer",
    "read_header",
    "read_rvs_wavelength",
    "write_allstar",
]
