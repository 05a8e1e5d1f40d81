"""The format registry: RESPONSEFORMAT / FORMAT names and MIME types -> writer."""

import pytest

from archive.errors import ArchiveError, UnknownFormat, UsageError
from archive.results.formats import DEFAULT, FORMATS, resolve


@pytest.mark.parametrize(
    ("value", "name"),
    [
        (None, "votable"),
        ("", "votable"),
        ("votable", "votable"),
        ("VOTable", "votable"),
        ("application/x-votable+xml", "votable"),
        ("votable/b2", "votable"),
        ("application/x-votable+xml;serialization=BINARY2", "votable"),
        ("application/x-votable+xml; charset=utf-8", "votable"),
        ("text/xml", "votable"),
        ("votable/td", "votable/td"),
        ("application/x-votable+xml;serialization=TABLEDATA", "votable/td"),
        ("csv", "csv"),
        ("text/csv", "csv"),
        ("text/csv;header=present", "csv"),
        ("tsv", "tsv"),
        ("text/tab-separated-values", "tsv"),
        ("fits", "fits"),
        ("application/fits", "fits"),
        ("parquet", "parquet"),
        ("application/vnd.apache.parquet", "parquet"),
        ("ecsv", "ecsv"),
        ("text/x-ecsv", "ecsv"),
    ],
)
def test_names_and_mime_types(value, name):
    assert resolve(value).name == name


@pytest.mark.parametrize(
    "value", ["xlsx", "application/json", "application/x-votable+xml;serialization=FITS"]
)
def test_unknown_format(value):
    with pytest.raises(UnknownFormat) as caught:
        resolve(value)
    assert isinstance(caught.value, UsageError) and isinstance(caught.value, ArchiveError)
    assert caught.value.status == 400
    assert value in caught.value.message and "parquet" in caught.value.message


def test_every_format_has_a_content_type_and_suffix():
    assert DEFAULT.name == "votable"
    for fmt in FORMATS:
        assert fmt.content_type and fmt.suffix.startswith(".")
        assert resolve(fmt.name) is fmt
        assert resolve(fmt.content_type) is fmt
