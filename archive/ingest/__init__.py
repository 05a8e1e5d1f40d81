"""Bulk ingest of Gaia DR3 and APOGEE DR17 products into PostgreSQL and the spectrum store."""
