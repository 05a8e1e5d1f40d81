"""Public web pages: home, search, star pages, query page, downloads."""
