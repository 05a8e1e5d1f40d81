"""What translate() raises: one base class, a subclass per kind of mistake, each with a position.

The serving layer maps every :class:`AdqlError` onto a DALI error document (HTTP 400); anything
else escaping translate() is a bug.
"""

from __future__ import annotations


class AdqlError(ValueError):
    """A query that cannot be translated; ``line``/``column`` (1-based) and ``token`` when known."""

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        column: int | None = None,
        token: str | None = None,
    ) -> None:
        self.message, self.line, self.column, self.token = message, line, column, token
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.line is None:
            return self.message
        where = f"line {self.line}, column {self.column}"
        return (
            f"{self.message} (at {where}: {self.token!r})"
            if self.token
            else (f"{self.message} (at {where})")
        )


class AdqlSyntaxError(AdqlError):
    """The text is not ADQL: a bad token, a missing keyword, an unterminated string."""


class UnknownTableError(AdqlError):
    """A table the catalogue does not publish."""


class UnknownColumnError(AdqlError):
    """A column no table in scope has (or several have: ambiguous)."""


class UnsupportedError(AdqlError):
    """Valid SQL that is not ADQL or not allowed here: another statement, a function, a type."""


class FrameError(UnsupportedError):
    """A coordinate system that cannot be converted to the catalogue's ICRS."""
