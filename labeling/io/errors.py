"""The one exception the readers raise: :class:`ReadError`."""

from __future__ import annotations


class ReadError(ValueError):
    """A product file could not be read.

    Always names the file; ``row`` is the 1-based data row (for per-pixel spectrum
    files, the row of the offending pixel line) and ``field`` the column, when known.
    """

    def __init__(
        self, path: str, message: str, *, row: int | None = None, field: str | None = None
    ) -> None:
        self.path = str(path)
        self.row = row
        self.field = field
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = [self.path]
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.field is not None:
            parts.append(f"field {self.field}")
        return ": ".join([", ".join(parts), self.message])

    def __reduce__(self):  # keep pickling (multiprocessing, Celery) working with kw-only args
        return (_rebuild, (self.path, self.message, self.row, self.field))


def _rebuild(path: str, message: str, row: int | None, field: str | None) -> ReadError:
    return ReadError(path, message, row=row, field=field)
