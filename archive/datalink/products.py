"""Per-source products served by DataLink: the RVS mean spectrum and the XP coefficients, as
VOTable (BINARY2), FITS (binary table), CSV and ECSV, built in memory from the array store (one
row by reference) and the catalogue.

The spectrum is the Gaia DR3 RVS mean spectrum as ingested: float32 flux and flux_error (the
DR3 spectra are normalised to the continuum, hence dimensionless) on the DR3 grid, 846-870 nm in
0.01 nm steps (2401 pixels), given in Angstrom. Text formats write each float32 in its shortest
exact decimal form, so every format reads back to the stored bits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from archive.errors import NotFound, UnknownFormat
from archive.metadata.fields import VOField
from archive.results.encode import Base64Lines
from archive.results.fetch import Chunk, ColumnChunk
from archive.results.text import ecsv_header
from archive.results.votable import binary2, footer, header
from labeling.preprocess import WAVELENGTH_NM

#: the DR3 RVS grid in Angstrom (8460.0 ... 8700.0, 0.1 A steps)
WAVELENGTH_A: np.ndarray = np.round(WAVELENGTH_NM * 10.0, 1)
N_XP = 55


@dataclass(frozen=True)
class ProductFormat:
    name: str
    content_type: str
    suffix: str


PRODUCT_FORMATS = {
    f.name: f
    for f in (
        ProductFormat("fits", "application/fits", ".fits"),
        ProductFormat("votable", "application/x-votable+xml", ".vot"),
        ProductFormat("csv", "text/csv;header=present", ".csv"),
        ProductFormat("ecsv", "text/x-ecsv", ".ecsv"),
    )
}
_ALIASES = {
    "application/fits": "fits",
    "image/fits": "fits",
    "vot": "votable",
    "application/x-votable+xml": "votable",
    "text/xml": "votable",
    "text/csv": "csv",
    "text/x-ecsv": "ecsv",
}


def product_format(value: str | None) -> ProductFormat:
    """RESPONSEFORMAT of a product (FITS when absent)."""
    key = (value or "fits").strip().lower().split(";")[0]
    key = _ALIASES.get(key, key)
    if key not in PRODUCT_FORMATS:
        raise UnknownFormat(value or "", list(PRODUCT_FORMATS))
    return PRODUCT_FORMATS[key]


@dataclass(frozen=True)
class Product:
    """A table of one source: its columns (fields and arrays) and header keywords."""

    name: str  # "rvs_spectrum", "xp_coefficients"
    source_id: int
    fields: tuple[VOField, ...]
    columns: tuple[np.ndarray, ...]
    #: (FITS keyword, value, comment); VOTable INFOs and ECSV meta carry the same
    keywords: tuple[tuple[str, object, str], ...]

    def filename(self, fmt: ProductFormat) -> str:
        return f"{self.name}_{self.source_id}{fmt.suffix}"


# --- the products ------------------------------------------------------------------------

RVS_FIELDS = (
    VOField(
        "wavelength",
        "double",
        unit="Angstrom",
        ucd="em.wl",
        description="Wavelength in vacuum of the pixel (Gaia DR3 RVS grid, 846-870 nm)",
    ),
    VOField(
        "flux",
        "float",
        ucd="phot.flux.density;em.wl;arith.ratio",
        description="Gaia DR3 RVS mean spectrum, normalised to the continuum (NaN: no data)",
    ),
    VOField(
        "flux_error",
        "float",
        ucd="stat.error;phot.flux.density;em.wl;arith.ratio",
        description="Uncertainty of the normalised flux",
    ),
)


_stores: dict = {}


def _store():
    """The configured spectrum store, opened once per process (opening costs milliseconds)."""
    from django.conf import settings

    from archive.catalogue.spectra import get_store

    key = (settings.RVS_SPECTRUM_STORE_URL, repr(settings.RVS_SPECTRUM_STORE_OPTIONS))
    if key not in _stores:
        _stores[key] = get_store()
    return _stores[key]


def rvs_product(source_id: int, store=None) -> Product:
    """The RVS mean spectrum of ``source_id`` from the array store, with its header."""
    from archive.catalogue.models import GaiaSource, RvsSpectrum

    ref = (
        RvsSpectrum.objects.filter(source_id=source_id)
        .values_list(
            "store_array",
            "store_row",
            "combined_transits",
            "combined_ccds",
            "source__rvs_spec_sig_to_noise",
            "source__ra",
            "source__dec",
        )
        .first()
    )
    if ref is None:
        if not GaiaSource.objects.filter(source_id=source_id).exists():
            raise NotFound(f"no source {source_id} in this archive")
        raise NotFound(f"source {source_id} has no RVS mean spectrum in this archive")
    array, row, transits, ccds, snr, ra, dec = ref
    flux, flux_error = (store or _store()).read(array, row)
    keywords = (
        ("OBJECT", f"Gaia DR3 {source_id}", "Gaia DR3 source"),
        ("SOURCEID", source_id, "Gaia DR3 source_id"),
        ("RA", ra, "[deg] ICRS right ascension, epoch J2016.0"),
        ("DEC", dec, "[deg] ICRS declination, epoch J2016.0"),
        ("TELESCOP", "Gaia", ""),
        ("INSTRUME", "RVS", "Radial Velocity Spectrometer"),
        ("SNR", _num(snr), "rvs_spec_sig_to_noise of Gaia DR3"),
        ("WAVEMIN", float(WAVELENGTH_A[0]), "[Angstrom] first pixel of the DR3 RVS grid"),
        ("WAVEMAX", float(WAVELENGTH_A[-1]), "[Angstrom] last pixel of the DR3 RVS grid"),
        ("WAVESTEP", 0.1, "[Angstrom] pixel step of the DR3 RVS grid (0.01 nm)"),
        ("NPIX", len(WAVELENGTH_A), "pixels of the DR3 RVS grid"),
        ("NNANPIX", int(np.isnan(flux).sum()), "pixels without flux (NaN)"),
        ("NTRANS", _num(transits), "combined_transits of the mean spectrum"),
        ("NCCD", _num(ccds), "combined_ccds of the mean spectrum"),
        ("FLUXNORM", True, "flux normalised to the continuum (dimensionless)"),
        ("VACUUM", True, "wavelengths in vacuum"),
    )
    return Product(
        "rvs_spectrum", source_id, RVS_FIELDS, (WAVELENGTH_A, flux, flux_error), keywords
    )


def _num(value):
    return "" if value is None else value


XP_FIELDS = (
    VOField("basis", "short", ucd="meta.id;arith.ratio", description="Index of the basis function"),
    *(
        VOField(
            f"{band}_{what}",
            "double",
            unit="e-/s",
            ucd=("stat.error;" if what == "coefficient_error" else "")
            + f"spect.continuum;em.opt.{band[0].upper()}",
            description=f"{band.upper()} {what.replace('_', ' ')} of the basis function",
        )
        for band in ("bp", "rp")
        for what in ("coefficient", "coefficient_error")
    ),
)


def xp_product(source_id: int) -> Product:
    """The Gaia DR3 XP continuous coefficients of ``source_id``, one row per basis function
    (the correlation matrices of DR3 are not stored in this archive)."""
    from archive.catalogue.models import GaiaSource, XpCoefficients

    xp = XpCoefficients.objects.filter(source_id=source_id).first()
    if xp is None:
        if not GaiaSource.objects.filter(source_id=source_id).exists():
            raise NotFound(f"no source {source_id} in this archive")
        raise NotFound(f"source {source_id} has no XP coefficients in this archive")

    def band(values) -> np.ndarray:
        return np.full(N_XP, np.nan) if values is None else np.asarray(values, dtype=np.float64)

    columns = (
        np.arange(N_XP, dtype=np.int16),
        band(xp.bp_coefficients),
        band(xp.bp_coefficient_errors),
        band(xp.rp_coefficients),
        band(xp.rp_coefficient_errors),
    )
    keywords = (
        ("OBJECT", f"Gaia DR3 {source_id}", "Gaia DR3 source"),
        ("SOURCEID", source_id, "Gaia DR3 source_id"),
        ("TELESCOP", "Gaia", ""),
        ("INSTRUME", "BP/RP", "Gaia DR3 XP continuous mean spectrum"),
        ("BPSTD", _num(xp.bp_standard_deviation), "bp_standard_deviation of the fit"),
        ("RPSTD", _num(xp.rp_standard_deviation), "rp_standard_deviation of the fit"),
        ("BPNREL", _num(xp.bp_n_relevant_bases), "bp_n_relevant_bases"),
        ("RPNREL", _num(xp.rp_n_relevant_bases), "rp_n_relevant_bases"),
        ("CORRMAT", False, "correlation matrices not stored in this archive"),
    )
    return Product("xp_coefficients", source_id, XP_FIELDS, columns, keywords)


# --- writers -----------------------------------------------------------------------------

_FITS_FORMAT = {"double": ("D", ">f8"), "float": ("E", ">f4"), "short": ("I", ">i2")}
BLOCK = 2880


def _card(key: str, value: object = None, comment: str = "") -> str:
    """One 80-character header card (FITS 4.0 Sect. 4.2): fixed-format values, strings quoted,
    None an undefined value (so a product always has the same cards and the same size)."""
    if value is None or value == "":
        text = " " * 20
    elif isinstance(value, bool | np.bool_):
        text = f"{'T' if value else 'F':>20}"
    elif isinstance(value, int | np.integer):
        text = f"{int(value):>20}"
    elif isinstance(value, float | np.floating):
        text = f"{repr(float(value)).upper():>20}"
    else:
        quoted = "'" + str(value).replace("'", "''").ljust(8) + "'"
        text = f"{quoted:<20}"
    card = f"{key:<8}= {text}" + (f" / {comment}" if comment else "")
    return card[:80].ljust(80)


def _header(cards: list[str]) -> bytes:
    raw = "".join(cards) + "END".ljust(80)
    return raw.ljust(-(-len(raw) // BLOCK) * BLOCK).encode("ascii")


def to_fits(product: Product) -> bytes:
    """A primary HDU with the source's keywords and one binary table (TUNITn, TUCDn, TCOMMn),
    written directly: big-endian rows and fixed 80-character cards (astropy's writer took
    ~20 ms a spectrum)."""
    keys = [_card(k, v, c) for k, v, c in product.keywords]
    primary = [
        _card("SIMPLE", True, "conforms to FITS standard"),
        _card("BITPIX", 8),
        _card("NAXIS", 0),
        _card("EXTEND", True),
        *keys,
    ]
    dtype = np.dtype([(f.name, _FITS_FORMAT[f.datatype][1]) for f in product.fields])
    rows = np.empty(len(product.columns[0]), dtype=dtype)
    for f, values in zip(product.fields, product.columns, strict=True):
        rows[f.name] = values
    table = [
        _card("XTENSION", "BINTABLE", "binary table extension"),
        _card("BITPIX", 8),
        _card("NAXIS", 2),
        _card("NAXIS1", dtype.itemsize, "bytes per row"),
        _card("NAXIS2", len(rows), "rows"),
        _card("PCOUNT", 0),
        _card("GCOUNT", 1),
        _card("TFIELDS", len(product.fields)),
    ]
    for i, f in enumerate(product.fields, start=1):
        table += [_card(f"TTYPE{i}", f.name), _card(f"TFORM{i}", "1" + _FITS_FORMAT[f.datatype][0])]
        if f.unit:
            table.append(_card(f"TUNIT{i}", f.unit))
        table += [_card(f"TUCD{i}", f.ucd), _card(f"TCOMM{i}", f.description[:66])]
    table += [_card("EXTNAME", product.name.upper()), *keys]
    data = rows.tobytes()
    data += b"\0" * (-len(data) % BLOCK)
    return _header(primary) + _header(table) + data


def _column_chunk(values: np.ndarray) -> ColumnChunk:
    # NaN stays a NaN value, which BINARY2 writes as is (a float's NULL)
    return ColumnChunk(values, np.zeros(len(values), dtype=bool))


def to_votable(product: Product) -> bytes:
    infos = [(k, str(v)) for k, v, _ in product.keywords]
    chunk = Chunk(len(product.columns[0]), [_column_chunk(c) for c in product.columns])
    b64 = Base64Lines()
    body = b64.feed(binary2(chunk, product.fields)) + b64.close()
    return (
        header(product.fields, "BINARY2", infos, table_name=product.name) + body + footer("BINARY2")
    )


def _text(column: np.ndarray) -> list[str]:
    """Shortest exact decimal of each value (float32 kept as float32)."""
    if column.dtype == np.float32:  # numpy's str of a float32 is its shortest exact decimal
        return [str(v) if v == v else "" for v in column]
    if column.dtype.kind == "f":
        return [repr(v) if v == v else "" for v in column.tolist()]
    return [str(v) for v in column.tolist()]


def _rows(product: Product) -> str:
    cells = [_text(c) for c in product.columns]
    return "".join(",".join(row) + "\n" for row in zip(*cells, strict=True))


def to_csv(product: Product) -> bytes:
    head = ",".join(f.name for f in product.fields) + "\n"
    return (head + _rows(product)).encode()


def to_ecsv(product: Product) -> bytes:
    import json

    head = ecsv_header(product.fields)
    meta = {k: v for k, v, _ in product.keywords}
    head = head.replace("# ---\n", "# ---\n# meta: " + json.dumps(meta) + "\n", 1)
    return (head + _rows(product)).encode()


WRITERS = {"fits": to_fits, "votable": to_votable, "csv": to_csv, "ecsv": to_ecsv}


def render(product: Product, fmt: ProductFormat) -> bytes:
    return WRITERS[fmt.name](product)


def product_fields(name: str) -> Sequence[VOField]:
    return {"rvs_spectrum": RVS_FIELDS, "xp_coefficients": XP_FIELDS}[name]
