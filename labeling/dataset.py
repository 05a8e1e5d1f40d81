"""The inputs of the CNN for a set of stars, with spectra read on demand (Sect. 2, 3.1).

A :class:`StarSet` holds the small per-star arrays in memory and a :class:`SpectrumSource`
that returns raw RVS fluxes for any batch of star indices: from an in-memory array (tests,
small runs) or straight from the spectrum store by reference (training and inference at
scale), so no member ever copies every spectrum.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from .labels import LABELS, N_PIXELS, N_XP

if TYPE_CHECKING:  # only the type: training and inference from arrays need no zarr
    from .spectrum_store import SpectrumStore


class SpectrumSource(Protocol):
    def __len__(self) -> int: ...

    def get(self, indices: np.ndarray) -> np.ndarray:
        """Raw flux (k, 2401) float32 of the stars at ``indices``, NaN pixels kept."""
        ...


@dataclass(frozen=True)
class ArraySpectra:
    """Spectra already in memory: (N, 2401) float32."""

    flux: np.ndarray

    def __len__(self) -> int:
        return len(self.flux)

    def get(self, indices: np.ndarray) -> np.ndarray:
        return self.flux[np.asarray(indices)]


@dataclass(frozen=True)
class StoreSpectra:
    """Spectra in the spectrum store, star i at (segments[i], rows[i])."""

    store: SpectrumStore
    segments: np.ndarray  # (N,) object: segment name
    rows: np.ndarray  # (N,) int64

    def __len__(self) -> int:
        return len(self.rows)

    def get(self, indices: np.ndarray) -> np.ndarray:
        indices = np.asarray(indices)
        out = np.empty((indices.size, N_PIXELS), dtype=np.float32)
        segs = self.segments[indices]
        for seg in np.unique(segs):
            sel = np.flatnonzero(segs == seg)
            out[sel] = self.store.read_rows(seg, self.rows[indices[sel]])[:, 0]
        return out


@dataclass
class StarSet:
    """What the CNN sees of N stars before preprocessing.

    ``phot``: G, BP, RP (mag) and parallax (mas), apparent values (Sect. 2.2);
    ``xp``: 55 BP then 55 RP coefficients (Sect. 2.3); ``labels``: (N, 5) in
    :data:`labeling.labels.LABELS` order, or None for stars without reference labels;
    ``label_errors``: the reference labels' own quoted 1σ errors (APOGEE's *_ERR), same shape.
    """

    source_id: np.ndarray
    spectra: SpectrumSource
    phot: np.ndarray
    xp: np.ndarray
    snr: np.ndarray
    labels: np.ndarray | None = None
    label_errors: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.source_id)
        if len(self.spectra) != n or self.phot.shape != (n, 4) or self.xp.shape != (n, N_XP):
            raise ValueError(
                f"inconsistent StarSet of {n} stars: spectra {len(self.spectra)}, "
                f"phot {self.phot.shape}, xp {self.xp.shape}"
            )
        if self.labels is not None and self.labels.shape != (n, len(LABELS)):
            raise ValueError(f"labels must be (n, {len(LABELS)}), got {self.labels.shape}")
        if self.label_errors is not None and (
            self.labels is None or self.label_errors.shape != self.labels.shape
        ):
            raise ValueError("label_errors need labels of the same shape")

    def __len__(self) -> int:
        return len(self.source_id)

    def subset(self, indices: np.ndarray) -> StarSet:
        """The stars at ``indices`` (spectra still read on demand)."""
        indices = np.asarray(indices)
        return StarSet(
            source_id=self.source_id[indices],
            spectra=_Subset(self.spectra, indices),
            phot=self.phot[indices],
            xp=self.xp[indices],
            snr=self.snr[indices],
            labels=None if self.labels is None else self.labels[indices],
            label_errors=None if self.label_errors is None else self.label_errors[indices],
        )


@dataclass(frozen=True)
class _Subset:
    parent: SpectrumSource
    indices: np.ndarray

    def __len__(self) -> int:
        return len(self.indices)

    def get(self, indices: np.ndarray) -> np.ndarray:
        return self.parent.get(self.indices[np.asarray(indices)])
