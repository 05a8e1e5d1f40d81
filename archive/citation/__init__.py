"""How the outside world finds and cites the catalogue: a citable record of every model version
(DataCite metadata, BibTeX) and the VO registry interface (OAI-PMH with VOResource records of the
TAP, cone search and DataLink services)."""
