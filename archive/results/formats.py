"""The result formats by the names and MIME types clients send as RESPONSEFORMAT or FORMAT."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from archive.errors import UnknownFormat
from archive.results import fits, text, votable
from archive.results.query import Result


@dataclass(frozen=True)
class Format:
    """A writer, the Content-Type it answers with, its file suffix and the names it answers to."""

    name: str
    content_type: str
    suffix: str
    writer: Callable[[Result], Iterator[bytes]]
    aliases: tuple[str, ...]
    #: the format reports a failure inside the document (VOTable) rather than by aborting
    reports_errors: bool = False


def _parquet(result: Result) -> Iterator[bytes]:
    from archive.results.parquet import write_parquet  # pyarrow (35 MB) only when asked for

    return write_parquet(result)


FORMATS = (
    Format(
        "votable",
        "application/x-votable+xml",
        ".vot",
        votable.write_binary2,
        (
            "votable",
            "votable/b2",
            "votable/binary2",
            "vot",
            "application/x-votable+xml",
            "text/xml",
            "application/x-votable+xml;serialization=binary2",
            "application/x-votable+xml;serialization=BINARY2",
        ),
        reports_errors=True,
    ),
    Format(
        "votable/td",
        "application/x-votable+xml;serialization=TABLEDATA",
        ".vot",
        votable.write_tabledata,
        (
            "votable/td",
            "votable/tabledata",
            "application/x-votable+xml;serialization=tabledata",
            "application/x-votable+xml;serialization=TABLEDATA",
        ),
        reports_errors=True,
    ),
    Format("csv", "text/csv;header=present", ".csv", text.write_csv, ("csv", "text/csv")),
    Format(
        "tsv",
        "text/tab-separated-values",
        ".tsv",
        text.write_tsv,
        ("tsv", "text/tab-separated-values", "text/tsv"),
    ),
    Format(
        "fits",
        "application/fits",
        ".fits",
        fits.write_fits,
        ("fits", "application/fits", "image/fits"),
    ),
    Format(
        "parquet",
        "application/vnd.apache.parquet",
        ".parquet",
        _parquet,
        ("parquet", "application/vnd.apache.parquet", "application/x-parquet"),
    ),
    Format("ecsv", "text/x-ecsv", ".ecsv", text.write_ecsv, ("ecsv", "text/x-ecsv")),
)
DEFAULT = FORMATS[0]
_BY_NAME = {alias.lower().replace(" ", ""): f for f in FORMATS for alias in f.aliases}


def resolve(value: str | None) -> Format:
    """The format a RESPONSEFORMAT / FORMAT value names (case and spaces ignored); the default
    (VOTable BINARY2) when none is given; :class:`UnknownFormat` otherwise."""
    if value is None or not value.strip():
        return DEFAULT
    key = value.strip().lower().replace(" ", "")
    if key in _BY_NAME:
        return _BY_NAME[key]
    base = key.split(";")[0]  # a MIME type with parameters we do not distinguish (charset...)
    if base in _BY_NAME and base != "application/x-votable+xml":
        return _BY_NAME[base]
    if base == "application/x-votable+xml" and "serialization" not in key:
        return DEFAULT
    raise UnknownFormat(value, [f.name for f in FORMATS])
