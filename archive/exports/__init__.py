"""Bulk exports of the published model versions: the catalogue of a version split by HEALPix
(level 8, derived from source_id as in Gaia's bulk files) in gzipped CSV, FITS and Parquet, with
a README, the column descriptions and an MD5SUM, built by a job and served with HTTP ranges."""
