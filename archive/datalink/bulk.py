"""Bulk spectra: one file with a row per requested ID (its RVS mean spectrum and XP
coefficients as array columns, or an error), streamed batch by batch: FITS (one binary table),
VOTable (BINARY2), Parquet, or a zip of one-row FITS files, one per ID.

Every row has the same size in FITS, so the header (NAXIS2 = the IDs asked) is written before
the first row is read; nothing holds more than a batch.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Iterator

import numpy as np

from archive.metadata.fields import VOField
from archive.results.encode import Base64Lines
from archive.results.fetch import Chunk, ColumnChunk
from archive.results.votable import binary2, footer, header

from .bulk_query import N_XP, XP_ARRAYS, Batch
from .products import (
    BLOCK,
    SOURCE_ID,
    WAVELENGTH_A,
    ProductFormat,
    _card,
    _column_chunk,
    _header,
    pick_format,
)

ERROR_WIDTH = 120  # bytes of the FITS error column (messages are shorter)

FIELDS = (
    VOField("source_id", "long", ucd="meta.id;meta.main", description=SOURCE_ID),
    VOField(
        "error",
        "char",
        arraysize="*",
        ucd="meta.note",
        description="Why a product is missing (unknown source, no spectrum); empty if none",
    ),
    VOField(
        "flux",
        "float",
        arraysize=str(len(WAVELENGTH_A)),
        ucd="phot.flux.density;em.wl;arith.ratio",
        description="Gaia DR3 RVS mean spectrum normalised to the continuum, on the DR3 grid "
        "(WAVEMIN + i * WAVESTEP Angstrom); NaN: no data",
    ),
    VOField(
        "flux_error",
        "float",
        arraysize=str(len(WAVELENGTH_A)),
        ucd="stat.error;phot.flux.density;em.wl;arith.ratio",
        description="Uncertainty of the normalised flux",
    ),
    *(
        VOField(
            name,
            "double",
            arraysize=str(N_XP),
            unit="e-/s",
            ucd=("stat.error;" if "errors" in name else "") + "stat.fit.param;spect.continuum",
            description=f"Gaia DR3 XP {name.replace('_', ' ')} (NaN: none)",
        )
        for name in XP_ARRAYS
    ),
    *(
        VOField(
            f"{band}_standard_deviation",
            "float",
            ucd="stat.stdev",
            description=f"Standard deviation of the {band.upper()} least-squares fit",
        )
        for band in ("bp", "rp")
    ),
)

KEYWORDS = (
    ("WAVEMIN", float(WAVELENGTH_A[0]), "[Angstrom] first pixel of flux"),
    ("WAVESTEP", 0.1, "[Angstrom] pixel step of flux (0.01 nm, vacuum)"),
    ("NPIX", len(WAVELENGTH_A), "pixels of flux"),
    ("FLUXNORM", True, "flux normalised to the continuum (dimensionless)"),
)


FORMATS = {
    f.name: f
    for f in (
        ProductFormat("fits", "application/fits", ".fits"),
        ProductFormat("votable", "application/x-votable+xml", ".vot"),
        ProductFormat("parquet", "application/vnd.apache.parquet", ".parquet"),
        ProductFormat("zip", "application/zip", ".zip"),
    )
}
_ALIASES = {
    "image/fits": "fits",
    "vot": "votable",
    "application/x-parquet": "parquet",
    **{f.content_type: f.name for f in FORMATS.values()},
}


def bulk_format(value: str | None) -> ProductFormat:
    """RESPONSEFORMAT of a bulk request (FITS when absent)."""
    return pick_format(value, FORMATS, _ALIASES)


# --- FITS --------------------------------------------------------------------------------

_FITS_CODES = {"long": ("K", ">i8"), "float": ("E", ">f4"), "double": ("D", ">f8")}
_TNULL_LONG = -(2**63)


def _row_dtype() -> np.dtype:
    slots = []
    for f in FIELDS:
        if f.datatype == "char":
            slots.append((f.name, f"S{ERROR_WIDTH}"))
        else:
            width = int(f.arraysize) if f.arraysize else 1
            slots.append((f.name, _FITS_CODES[f.datatype][1], (width,) if width > 1 else ()))
    return np.dtype(slots)


ROW = _row_dtype()


def fits_header(rows: int) -> bytes:
    primary = [
        _card("SIMPLE", True, "conforms to FITS standard"),
        _card("BITPIX", 8),
        _card("NAXIS", 0),
        _card("EXTEND", True),
    ]
    table = [
        _card("XTENSION", "BINTABLE", "binary table extension"),
        _card("BITPIX", 8),
        _card("NAXIS", 2),
        _card("NAXIS1", ROW.itemsize, "bytes per row"),
        _card("NAXIS2", rows, "rows: one per requested ID"),
        _card("PCOUNT", 0),
        _card("GCOUNT", 1),
        _card("TFIELDS", len(FIELDS)),
    ]
    for i, f in enumerate(FIELDS, start=1):
        if f.datatype == "char":
            form = f"{ERROR_WIDTH}A"
        else:
            form = f"{f.arraysize or 1}{_FITS_CODES[f.datatype][0]}"
        table += [_card(f"TTYPE{i}", f.name), _card(f"TFORM{i}", form)]
        if f.datatype == "long":
            table.append(_card(f"TNULL{i}", _TNULL_LONG))
        if f.unit:
            table.append(_card(f"TUNIT{i}", f.unit))
        table += [_card(f"TUCD{i}", f.ucd), _card(f"TCOMM{i}", f.description[:66])]
    table += [_card("EXTNAME", "BULK_SPECTRA"), *(_card(*k) for k in KEYWORDS)]
    return _header(primary) + _header(table)


def fits_rows(batch: Batch, rows: slice = slice(None)) -> bytes:
    out = np.empty(len(batch.source_id[rows]), dtype=ROW)
    out["source_id"] = np.where(batch.id_null, _TNULL_LONG, batch.source_id)[rows]
    out["error"] = [e.encode()[:ERROR_WIDTH] for e in batch.error[rows]]
    out["flux"] = batch.flux[rows]
    out["flux_error"] = batch.flux_error[rows]
    for name, values in batch.xp.items():
        out[name] = values[rows]
    return out.tobytes()


def _padding(rows: int) -> bytes:
    return b"\0" * (-(rows * ROW.itemsize) % BLOCK)


def write_fits(batches: Iterable[Batch], rows: int) -> Iterator[bytes]:
    yield fits_header(rows)
    for batch in batches:
        yield fits_rows(batch)
    yield _padding(rows)


def write_zip(batches: Iterable[Batch], rows: int) -> Iterator[bytes]:
    """One one-row FITS file per requested ID, in the order asked (the position first, so a
    repeated or malformed ID still has its own entry), stored uncompressed: spectra hardly
    compress and deflate would cost more than the network."""
    sink = _Sink()
    archive = zipfile.ZipFile(sink, "w", zipfile.ZIP_STORED, allowZip64=True)
    one = fits_header(1)
    position = 0
    for batch in batches:
        for k in range(batch.rows):
            position += 1
            sid = "invalid" if batch.id_null[k] else str(batch.source_id[k])
            body = one + fits_rows(batch, slice(k, k + 1)) + _padding(1)
            archive.writestr(f"{position:06d}_gaia_dr3_{sid}.fits", body)
        yield sink.drain()
    archive.close()
    yield sink.drain()


# --- VOTable and Parquet -------------------------------------------------------------------


def _chunk(batch: Batch) -> Chunk:
    none = np.zeros(batch.rows, dtype=bool)
    text = [e.encode() for e in batch.error]
    offsets = np.concatenate([[0], np.cumsum([len(t) for t in text])]).astype(np.int64)
    error = ColumnChunk(np.frombuffer(b"".join(text), np.uint8), none, offsets)
    columns = [ColumnChunk(batch.source_id, batch.id_null), error]
    for values in (batch.flux, batch.flux_error, *(batch.xp[n] for n in XP_ARRAYS)):
        columns.append(_column_chunk(values, none))
    columns += [ColumnChunk(batch.xp[f"{b}_standard_deviation"], none) for b in ("bp", "rp")]
    return Chunk(batch.rows, columns)


def write_votable(batches: Iterable[Batch], rows: int) -> Iterator[bytes]:
    infos = [(k, str(v)) for k, v, _ in KEYWORDS] + [("ROWS", str(rows))]
    yield header(FIELDS, "BINARY2", infos, table_name="bulk_spectra")
    b64 = Base64Lines()
    try:
        for batch in batches:
            yield b64.feed(binary2(_chunk(batch), FIELDS))
    except Exception as exc:  # the status is sent: say it in the document (DALI 4.4.1)
        yield b64.close() + footer("BINARY2", "ERROR", f"the spectra stopped midway: {exc}")
        raise
    yield b64.close() + footer("BINARY2")


def _arrow_schema():
    import pyarrow as pa

    types = {"long": pa.int64(), "float": pa.float32(), "double": pa.float64()}
    fields = []
    for f in FIELDS:
        kind = pa.string() if f.datatype == "char" else types[f.datatype]
        if f.is_array:
            kind = pa.list_(kind, int(f.arraysize))
        meta = {"ucd": f.ucd, "description": f.description, "unit": f.unit}
        fields.append(pa.field(f.name, kind, metadata=meta))
    return pa.schema(fields, metadata={k: str(v) for k, v, _ in KEYWORDS})


def _arrow_table(batch: Batch, schema):
    import pyarrow as pa

    columns = [
        pa.array(batch.source_id, mask=batch.id_null),
        pa.array(batch.error, pa.string()),
    ]
    for f in list(schema)[2:]:
        values = batch.xp.get(f.name) if f.name not in ("flux", "flux_error") else None
        values = getattr(batch, f.name) if values is None else values
        if values.ndim == 2:
            flat = pa.array(values.reshape(-1), f.type.value_type)
            columns.append(pa.FixedSizeListArray.from_arrays(flat, values.shape[1]))
        else:
            columns.append(pa.array(values, f.type))
    return pa.Table.from_arrays(columns, schema=schema)


def write_parquet(batches: Iterable[Batch], rows: int) -> Iterator[bytes]:
    import pyarrow.parquet as pq

    schema = _arrow_schema()
    sink = _Sink()
    with pq.ParquetWriter(sink, schema, compression="zstd") as writer:
        for batch in batches:
            writer.write_table(_arrow_table(batch, schema))
            yield sink.drain()
    yield sink.drain()


class _Sink:
    """A write-only file that hands its bytes on: what zipfile and ParquetWriter write between
    two drains is all it ever holds."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.closed = False

    def write(self, data) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def drain(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


WRITERS = {"fits": write_fits, "votable": write_votable, "parquet": write_parquet}
WRITERS["zip"] = write_zip
