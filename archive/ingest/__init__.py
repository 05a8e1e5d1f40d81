"""Bulk ingest of Gaia DR3 and APOGEE DR17 products into PostgreSQL and the spectrum store."""

from .products import PRODUCTS, Product
from .runner import IngestReport, Rejected, ingest_file

__all__ = ["PRODUCTS", "IngestReport", "Product", "Rejected", "ingest_file"]
