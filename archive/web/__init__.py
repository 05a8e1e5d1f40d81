"""Public web pages: the home page so far (search, star pages, query page and downloads are
not built yet)."""
