"""The unit every reader yields: :class:`Chunk`, a block of rows as numpy columns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Chunk:
    """A block of consecutive rows of one product file.

    ``columns`` maps data-model column names (Gaia: lower case; APOGEE: upper case as
    in allStar) to arrays whose first axis is the row.  Missing values:

    * float columns (and float array columns): NaN;
    * integer, bool and string columns: filled with 0 / False / "" and, when at least
      one value of the chunk is missing, flagged in ``masks[name]`` (True = missing).
      A column absent from ``masks`` has no missing value in this chunk.

    ``first_row`` is the 1-based data row of the first row.  Readers whose rows are
    not consecutive lines of the file (the per-pixel RVS layout, one star per many
    lines) set ``row_numbers`` to the data row of each star's first pixel line.
    """

    path: str
    first_row: int
    columns: dict[str, np.ndarray]
    masks: dict[str, np.ndarray] = field(default_factory=dict)
    row_numbers: np.ndarray | None = None

    def __len__(self) -> int:
        for values in self.columns.values():
            return len(values)
        return 0

    @property
    def rows(self) -> np.ndarray:
        """1-based data row number of each row of the chunk."""
        if self.row_numbers is not None:
            return self.row_numbers
        return np.arange(self.first_row, self.first_row + len(self), dtype=np.int64)

    def missing(self, name: str) -> np.ndarray:
        """Boolean mask of missing values of column ``name`` (NaN for floats)."""
        values = self.columns[name]
        if name in self.masks:
            return self.masks[name]
        if values.dtype.kind == "f":
            return np.isnan(values) if values.ndim == 1 else np.isnan(values).all(axis=1)
        return np.zeros(len(values), dtype=bool)
