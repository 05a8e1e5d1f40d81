"""Public web pages: the catalogue overview, search and downloads, star pages, the query page
with its jobs (accounts live in archive.accounts)."""
