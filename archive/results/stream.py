"""One entry point for every result: a query, its fields, a format and MAXREC -> bytes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from archive.errors import BadParameter
from archive.metadata.fields import VOField
from archive.results.columns import describe
from archive.results.formats import Format, resolve
from archive.results.query import Result, Sizes, snapshot


def parse_maxrec(value: str | int | None, default: int | None, limit: int | None) -> int | None:
    """MAXREC as DALI reads it: a non-negative integer, at most ``limit`` (the hard limit
    silently caps it, as DALI allows); ``default`` when absent; None means no limit."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    try:
        number = int(str(value).strip())
    except ValueError:
        raise BadParameter("MAXREC", value, "a whole number of rows, 0 or more") from None
    if number < 0:
        raise BadParameter("MAXREC", value, "a whole number of rows, 0 or more")
    return number if limit is None else min(number, limit)


def stream_result(
    connection,
    sql: str,
    fields: Sequence[VOField] | None,
    fmt: Format | str | None = None,
    maxrec: int | None = None,
    service_descriptors: Sequence = (),
    infos: Sequence = (),
    sizes: Sizes | None = None,
) -> Iterator[bytes]:
    """The bytes of ``sql``'s result in ``fmt``, fetched in one read-only snapshot on
    ``connection`` (a psycopg connection of the read-only role, not in a transaction).

    ``fields`` describe the query's columns in order (None: derived from the query's types).
    ``service_descriptors``: the :class:`archive.results.votable.ServiceDescriptor` objects a
    VOTable carries (DataLink); ``infos``: its provenance INFOs, (name, value, text)
    (:func:`archive.citation.infos.result_infos`), also in Parquet's VOTable metadata;
    ``sizes``: the rows, widths and integer ranges FITS needs first, when the caller knows them
    (checked: a result whose rows differ fails).
    Errors before the first byte are raised as :class:`archive.errors.ArchiveError`; after it,
    a VOTable ends with QUERY_STATUS=ERROR and other formats raise, so the transfer aborts.
    """
    fmt = fmt if isinstance(fmt, Format) else resolve(fmt)
    with snapshot(connection) as cursor:
        if fields is None:
            fields = describe(cursor, sql)
        result = Result(cursor, sql, list(fields), maxrec)
        result.service_descriptors, result.infos = service_descriptors, infos
        result.known_sizes = sizes
        yield from fmt.writer(result)
