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
from dataclasses import dataclass, replace
from functools import lru_cache
from xml.sax.saxutils import quoteattr

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


def pick_format(
    value: str | None, formats: dict[str, ProductFormat], aliases: dict[str, str]
) -> ProductFormat:
    """The format a RESPONSEFORMAT names, by name or MIME type (FITS when absent)."""
    key = (value or "fits").strip().lower().split(";")[0]
    key = aliases.get(key, key)
    if key not in formats:
        raise UnknownFormat(value or "", list(formats))
    return formats[key]


def product_format(value: str | None) -> ProductFormat:
    """RESPONSEFORMAT of a product (FITS when absent)."""
    return pick_format(value, PRODUCT_FORMATS, _ALIASES)


@dataclass(frozen=True)
class Product:
    """A table of one source: its columns (fields and arrays) and header keywords."""

    name: str  # "rvs_spectrum", "xp_continuous" (Gaia's product types, in lower case)
    source_id: int
    fields: tuple[VOField, ...]
    columns: tuple[np.ndarray, ...]
    #: (FITS keyword, value, comment); VOTable INFOs and ECSV meta carry the same
    keywords: tuple[tuple[str, object, str], ...]
    #: per column, True where the row's value is null (None: no nulls in the column)
    masks: tuple[np.ndarray | None, ...] = ()

    def filename(self, fmt: ProductFormat) -> str:
        return f"{self.name}_{self.source_id}{fmt.suffix}"

    @property
    def rows(self) -> int:
        return len(self.columns[0])

    def mask(self, i: int) -> np.ndarray:
        given = self.masks[i] if i < len(self.masks) else None
        return np.zeros(self.rows, dtype=bool) if given is None else given


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
    keywords = rvs_keywords(source_id, ra, dec, snr, transits, ccds, int(np.isnan(flux).sum()))
    return Product(
        "rvs_spectrum", source_id, RVS_FIELDS, (WAVELENGTH_A, flux, flux_error), keywords
    )


def rvs_keywords(
    source_id: int,
    ra: float | None,
    dec: float | None,
    snr: float | None,
    transits: int | None,
    ccds: int | None,
    nan_pixels: int,
) -> tuple[tuple[str, object, str], ...]:
    """The header of a source's RVS spectrum product (also what its size depends on)."""
    return (
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
        ("NNANPIX", nan_pixels, "pixels without flux (NaN)"),
        ("NTRANS", _num(transits), "combined_transits of the mean spectrum"),
        ("NCCD", _num(ccds), "combined_ccds of the mean spectrum"),
        ("FLUXNORM", True, "flux normalised to the continuum (dimensionless)"),
        ("VACUUM", True, "wavelengths in vacuum"),
    )


def _num(value):
    return "" if value is None else value


def _xp_fields() -> tuple[VOField, ...]:
    """Gaia DR3's XP_CONTINUOUS columns this archive keeps, in Gaia's order, names and types."""
    fields = [VOField("source_id", "long", ucd="meta.id;meta.main", description=SOURCE_ID)]
    for band in ("bp", "rp"):
        name, wave = band.upper(), f"em.opt.{band[0].upper()}"
        fields += [
            VOField(
                f"{band}_n_parameters",
                "short",
                ucd="stat.fit.param",
                description=f"Number of parameters of the {name} representation",
            ),
            VOField(
                f"{band}_standard_deviation",
                "float",
                ucd="stat.stdev",
                description=f"Standard deviation of the {name} least-squares fit",
            ),
            VOField(
                f"{band}_coefficients",
                "double",
                arraysize=str(N_XP),
                unit="e-/s",
                ucd=f"stat.fit.param;spect.continuum;{wave}",
                description=f"Basis-function coefficients of the {name} representation",
            ),
            VOField(
                f"{band}_coefficient_errors",
                "float",
                arraysize=str(N_XP),
                unit="e-/s",
                ucd=f"stat.error;spect.continuum;{wave}",
                description=f"Errors of the {name} coefficients",
            ),
            VOField(
                f"{band}_coefficient_correlations",
                "float",
                arraysize=str(N_XP_CORRELATIONS),
                ucd="stat.correlation",
                description=f"Correlations of the {name} coefficients: the off-diagonal "
                "elements of the 55x55 matrix, packed as in Gaia DR3",
            ),
            VOField(
                f"{band}_n_relevant_bases",
                "short",
                ucd="meta.number",
                description=f"Number of bases relevant to the {name} spectrum",
            ),
        ]
    return tuple(fields)


SOURCE_ID = "Gaia DR3 source identifier"
N_XP_CORRELATIONS = N_XP * (N_XP - 1) // 2
XP_FIELDS = _xp_fields()
_XP_ARRAYS = {"coefficients": N_XP, "coefficient_errors": N_XP}
_XP_ARRAYS["coefficient_correlations"] = N_XP_CORRELATIONS


def xp_product(source_id: int) -> Product:
    """The Gaia DR3 XP continuous mean spectrum of ``source_id`` as the Gaia archive's DataLink
    serves it (XP_CONTINUOUS: one row, the coefficients, their errors and correlations as array
    columns), with the columns this archive keeps."""
    from archive.catalogue.models import GaiaSource, XpCoefficients

    names = [f.name for f in XP_FIELDS if f.name not in ("bp_n_parameters", "rp_n_parameters")]
    stored = XpCoefficients.objects.filter(source_id=source_id).values(*names).first()
    if stored is None:
        if not GaiaSource.objects.filter(source_id=source_id).exists():
            raise NotFound(f"no source {source_id} in this archive")
        raise NotFound(f"source {source_id} has no XP coefficients in this archive")
    return xp_product_of(source_id, stored)


def xp_product_of(source_id: int, stored: dict) -> Product:
    """The XP product of the stored values (a missing key or None: null); a band without
    coefficients has null arrays and a null n_parameters (DR3 has 55 for every band it has)."""
    columns, masks = [], []
    for f in XP_FIELDS:
        value = source_id if f.name == "source_id" else stored.get(f.name)
        if f.name.endswith("_n_parameters"):
            present = stored.get(f.name.replace("n_parameters", "coefficients")) is not None
            value = N_XP if present else None
        dtype = _XP_DTYPES[f.datatype]
        width = _XP_ARRAYS.get(f.name[3:])
        if width is None:
            columns.append(np.array([0 if value is None else value], dtype=dtype))
        else:
            columns.append(np.full((1, width), np.nan, dtype=dtype))
            if value is not None:
                columns[-1][0] = value
        masks.append(np.array([value is None]))
    keywords = xp_keywords(source_id)
    return Product("xp_continuous", source_id, XP_FIELDS, tuple(columns), keywords, tuple(masks))


def xp_keywords(source_id: int) -> tuple[tuple[str, object, str], ...]:
    """The header of a source's XP product (also what its size depends on)."""
    return (
        ("OBJECT", f"Gaia DR3 {source_id}", "Gaia DR3 source"),
        ("SOURCEID", source_id, "Gaia DR3 source_id"),
        ("TELESCOP", "Gaia", ""),
        ("INSTRUME", "BP/RP", "Gaia DR3 XP continuous mean spectrum"),
    )


_XP_DTYPES = {"long": np.int64, "short": np.int16, "float": np.float32, "double": np.float64}


# --- writers -----------------------------------------------------------------------------

_FITS_FORMAT = {
    "double": ("D", ">f8"),
    "float": ("E", ">f4"),
    "short": ("I", ">i2"),
    "long": ("K", ">i8"),
}
#: the null of an integer column (TNULLn): the type's smallest value, which no count reaches
_TNULL = {"short": -(2**15), "long": -(2**63)}
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
    """A primary HDU with the source's keywords and one binary table (TUNITn, TUCDn, TCOMMn;
    TNULLn for integers; arrays of fixed length), written directly: big-endian rows and fixed
    80-character cards (astropy's writer took ~20 ms a spectrum), so a product's size does not
    depend on its values."""
    keys = [_card(k, v, c) for k, v, c in product.keywords]
    primary = [
        _card("SIMPLE", True, "conforms to FITS standard"),
        _card("BITPIX", 8),
        _card("NAXIS", 0),
        _card("EXTEND", True),
        *keys,
    ]
    layout = list(_layout(product))
    dtype = np.dtype([(f.name, code, (n,) if c.ndim == 2 else ()) for f, (_, code), n, c in layout])
    rows = np.empty(product.rows, dtype=dtype)
    for i, f in enumerate(product.fields):
        values, mask = product.columns[i], product.mask(i)
        if mask.any() and values.dtype.kind in "iu":
            values = np.where(mask, _TNULL[f.datatype], values)
        elif mask.any():
            values = np.where(mask.reshape(-1, *([1] * (values.ndim - 1))), np.nan, values)
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
    for i, (f, (letter, _), n, _values) in enumerate(layout, start=1):
        table += [_card(f"TTYPE{i}", f.name), _card(f"TFORM{i}", f"{n}{letter}")]
        if f.datatype in _TNULL:
            table.append(_card(f"TNULL{i}", _TNULL[f.datatype]))
        if f.unit:
            table.append(_card(f"TUNIT{i}", f.unit))
        table += [_card(f"TUCD{i}", f.ucd), _card(f"TCOMM{i}", f.description[:66])]
    table += [_card("EXTNAME", product.name.upper()), *keys]
    data = rows.tobytes()
    data += b"\0" * (-len(data) % BLOCK)
    return _header(primary) + _header(table) + data


def _layout(product: Product):
    """(field, (TFORM letter, numpy type), values per row, column) of each column."""
    for f, column in zip(product.fields, product.columns, strict=True):
        width = column.shape[1] if column.ndim == 2 else 1
        yield f, _FITS_FORMAT[f.datatype], width, column


def _column_chunk(values: np.ndarray, mask: np.ndarray) -> ColumnChunk:
    """A column as the BINARY2 writer takes it: an array column's values end to end, a null
    row without any (NaN inside an array stays a NaN value, which BINARY2 writes as is)."""
    if values.ndim == 1:
        return ColumnChunk(values, mask)
    counts = np.where(mask, 0, values.shape[1])
    offsets = np.concatenate([[0], np.cumsum(counts)])
    return ColumnChunk(values[~mask].reshape(-1), mask, offsets)


def _votable_header(product: Product) -> bytes:
    infos = [(k, str(v)) for k, v, _ in product.keywords]
    return header(product.fields, "BINARY2", infos, table_name=product.name)


def to_votable(product: Product) -> bytes:
    columns = [_column_chunk(c, product.mask(i)) for i, c in enumerate(product.columns)]
    b64 = Base64Lines()
    body = b64.feed(binary2(Chunk(product.rows, columns), product.fields)) + b64.close()
    return _votable_header(product) + body + footer("BINARY2")


def _numbers(values: np.ndarray) -> list[str]:
    """Shortest exact decimal of each value (float32 kept as float32); NaN as 'NaN'."""
    if values.dtype == np.float32:  # numpy's str of a float32 is its shortest exact decimal
        return [str(v) if v == v else "NaN" for v in values]
    if values.dtype.kind == "f":
        return [repr(v) if v == v else "NaN" for v in values.tolist()]
    return [str(v) for v in values.tolist()]


def _text(column: np.ndarray, mask: np.ndarray, array_style: str) -> list[str]:
    """A column's cells: a scalar's shortest exact decimal, empty where null or NaN; an array
    as Gaia's DataLink CSV writes it, "(v1, v2, ...)", or as ECSV's JSON, "[v1,v2,...]"."""
    if column.ndim == 1:
        return ["" if m or t == "NaN" else t for t, m in zip(_numbers(column), mask, strict=True)]
    open_, sep, close = ("(", ", ", ")") if array_style == "csv" else ("[", ",", "]")
    return [
        "" if m else f'"{open_}{sep.join(_numbers(row))}{close}"'
        for row, m in zip(column, mask, strict=True)
    ]


def _rows(product: Product, array_style: str) -> str:
    cells = [_text(c, product.mask(i), array_style) for i, c in enumerate(product.columns)]
    return "".join(",".join(row) + "\n" for row in zip(*cells, strict=True))


def to_csv(product: Product) -> bytes:
    head = ",".join(f.name for f in product.fields) + "\n"
    return (head + _rows(product, "csv")).encode()


def to_ecsv(product: Product) -> bytes:
    import json

    head = ecsv_header(product.fields)
    meta = {k: v for k, v, _ in product.keywords}
    head = head.replace("# ---\n", "# ---\n# meta: " + json.dumps(meta) + "\n", 1)
    return (head + _rows(product, "json")).encode()


WRITERS = {"fits": to_fits, "votable": to_votable, "csv": to_csv, "ecsv": to_ecsv}


def render(product: Product, fmt: ProductFormat) -> bytes:
    return WRITERS[fmt.name](product)


# --- sizes -------------------------------------------------------------------------------
# Every source's product has the same rows of fixed-width binary values (FITS, BINARY2) and,
# in FITS, the same 80-character cards: its size in those formats follows from its header
# keywords alone, without reading the spectrum.


@lru_cache(maxsize=4)
def _blank(name: str) -> Product:
    """A product of ``name`` with zeros (or nulls) for values."""
    if name == "xp_continuous":
        return xp_product_of(0, {})
    zeros = np.zeros(len(WAVELENGTH_A), dtype=np.float32)
    keywords = rvs_keywords(0, None, None, None, None, None, 0)
    return Product(name, 0, RVS_FIELDS, (WAVELENGTH_A, zeros, zeros), keywords)


@lru_cache(maxsize=8)
def _fixed_bytes(name: str, fmt: str) -> int:
    """The whole FITS file; the VOTable less its header keywords' values (INFO value
    attributes, the only part of it whose length varies)."""
    blank = _blank(name)
    if fmt == "fits":
        return len(to_fits(blank))
    empty = replace(blank, keywords=tuple((k, "", c) for k, _, c in blank.keywords))
    return len(to_votable(empty)) - len(quoteattr("")) * len(blank.keywords)


def content_length(name: str, fmt: str, keywords: tuple = ()) -> int:
    """Bytes of the ``name`` product ("rvs_spectrum", "xp_continuous") in ``fmt`` ("fits",
    "votable") of a source whose header keywords are ``keywords`` (:func:`rvs_keywords`,
    :func:`xp_keywords`; FITS cards are fixed-width, so FITS needs none). Some microseconds:
    a links document gives it for thousands of sources."""
    if fmt == "fits":
        return _fixed_bytes(name, "fits")
    values = sum(len(quoteattr(str(v)).encode()) for _, v, _ in keywords)
    return _fixed_bytes(name, "votable") + values


def product_fields(name: str) -> Sequence[VOField]:
    return {"rvs_spectrum": RVS_FIELDS, "xp_continuous": XP_FIELDS}[name]
