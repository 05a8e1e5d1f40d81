"""Streaming result writers: VOTable, CSV, TSV, FITS, Parquet and ECSV from chunked fetches.

One entry point, :func:`archive.results.stream.stream_result` (a psycopg connection of the
read-only role, the SQL, its :class:`~archive.metadata.fields.VOField` list or None, a format,
MAXREC -> bytes), and its Django face, :func:`archive.results.http.result_response`. Formats by
RESPONSEFORMAT / FORMAT name or MIME type: :mod:`archive.results.formats`. Rows leave
PostgreSQL by ``COPY ... TO STDOUT``: binary, parsed by numpy (:mod:`~archive.results.fetch`),
for VOTable BINARY2, FITS and Parquet; PostgreSQL's own csv/text output for CSV, TSV, ECSV and
TABLEDATA. Nothing is held per row in Python, and memory stays at a few 4 MB batches.
"""
