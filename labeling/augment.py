"""Training-time noise augmentation: spectra degraded to a lower S/N (a departure from the paper).

The training sample has S/N ≥ 30 (Sect. 2.5) while a third of the observed sample lies at 15–25
(Fig. 1), so without help the spectrum branch extrapolates there and precision falls with S/N
(Fig. 16 shows it flat). Each training batch degrades a share of its spectra to an S/N drawn
log-uniformly between ``min_snr`` and the star's own: continuum-normalised flux at S/N s has
per-pixel noise ≈ 1/s, so white Gaussian noise of σ = sqrt(1/t² − 1/s²) takes it to S/N t.
Validation and prediction never see it. docs/science.md says what it changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class NoiseAugmentation:
    """``fraction`` of each training batch is degraded to S/N in [``min_snr``, own S/N]."""

    min_snr: float = 15.0
    fraction: float = 0.8

    def target_snr(self, snr: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Per star, the S/N to degrade to; inf for stars left as they are."""
        snr = np.asarray(snr, dtype=np.float64)
        pick = (rng.random(snr.size) < self.fraction) & np.isfinite(snr) & (snr > self.min_snr)
        lo, hi = np.log(self.min_snr), np.log(np.where(pick, snr, self.min_snr * np.e))
        target = np.exp(lo + rng.random(snr.size) * (hi - lo))
        return np.where(pick, target, np.inf)


def degrade(
    flux: np.ndarray, snr: np.ndarray, target_snr: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """(k, n_pixels) normalised spectra at S/N ``snr`` brought to ``target_snr`` (a copy).

    Stars whose target is not below their S/N are returned unchanged.
    """
    flux = np.array(flux, dtype=np.float32)
    snr, target = np.asarray(snr, dtype=np.float64), np.asarray(target_snr, dtype=np.float64)
    rows = np.flatnonzero(np.isfinite(target) & (target < snr))
    if rows.size:
        sigma = np.sqrt(1.0 / target[rows] ** 2 - 1.0 / snr[rows] ** 2)
        noise = rng.standard_normal((rows.size, flux.shape[1]), dtype=np.float32)
        flux[rows] += noise * sigma[:, None].astype(np.float32)
    return flux
