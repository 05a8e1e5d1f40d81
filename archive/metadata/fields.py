"""What a result column is, as every output format describes it: the VOTable FIELD.

The registry (``registry.py``) declares published columns; the result writers
(``archive.results``) take a sequence of :class:`VOField` for the columns of any query, so a
query on the registry's tables carries its units, UCDs and descriptions into every format.
"""

from __future__ import annotations

from dataclasses import dataclass

#: VOTable 1.4 datatypes (Sect. 2.1) the archive emits.
DATATYPES = (
    "boolean",
    "unsignedByte",
    "short",
    "int",
    "long",
    "float",
    "double",
    "char",
    "unicodeChar",
)


@dataclass(frozen=True)
class VOField:
    """One column of a result: VOTable datatype, arraysize and xtype, and its VO metadata.

    ``arraysize`` follows VOTable: None for a scalar, ``"8"`` for a fixed length, ``"*"`` or
    ``"16*"`` for a variable one; ``char`` columns always have one.
    """

    name: str
    datatype: str
    arraysize: str | None = None
    xtype: str | None = None
    unit: str = ""
    ucd: str = ""
    utype: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        if self.datatype not in DATATYPES:
            raise ValueError(f"{self.name}: unknown VOTable datatype {self.datatype!r}")

    @property
    def is_array(self) -> bool:
        """An array of numbers (not a string): arraysize set on a non-char datatype."""
        return self.arraysize is not None and self.datatype not in ("char", "unicodeChar")
