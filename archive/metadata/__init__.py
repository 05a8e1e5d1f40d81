"""The published schemas, tables and columns, declared once (the role of daiquiri's metadata)."""
