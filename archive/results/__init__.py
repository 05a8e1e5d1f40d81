"""Streaming result writers: VOTable, CSV, TSV, FITS, Parquet and ECSV from chunked fetches."""
