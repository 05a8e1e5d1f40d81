"""Training-time noise augmentation: spectra degraded to a lower S/N (a departure from the paper).

The training sample has S/N ≥ 30 (Sect. 2.5) while a third of the observed sample lies at 15–25
(Fig. 1), so without help the spectrum branch extrapolates there and precision falls with S/N
(Fig. 16 shows it flat). Each training batch degrades a share of its spectra to an S/N drawn
log-uniformly between ``min_snr`` and the star's own: continuum-normalised flux at S/N s has
per-pixel noise ≈ 1/s, so noise of σ = sqrt(1/t² − 1/s²) takes it to S/N t. The added noise
is correlated between neighbouring pixels like the noise of a real mean RVS spectrum
(:func:`rvs_noise`). Validation and prediction never see it. docs/science.md says what it
changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: CCD pixels per 0.01 nm pixel of a Gaia DR3 mean RVS spectrum (~0.0245 nm per CCD pixel):
#: epoch spectra are resampled onto the 0.01 nm grid, so the noise of neighbouring pixels is
#: correlated. White noise smoothed by the linear-interpolation (triangle) kernel of this
#: half-width gives first and second pixel differences of 0.21 and 0.08 of the variance that
#: white noise of the same per-pixel σ would; three real spectra in ../shared/data show
#: 0.18-0.30 and 0.06-0.09 (tests/labeling/test_synthetic.py).
RVS_NATIVE_PIXEL_PX = 2.45


def rvs_noise_kernel(native_pixel_px: float) -> np.ndarray:
    """The triangle kernel of half-width ``native_pixel_px`` pixels, unit sum of squares."""
    half = int(np.ceil(native_pixel_px)) - 1
    w = 1.0 - np.abs(np.arange(-half, half + 1)) / native_pixel_px
    return (w / np.sqrt(np.sum(w**2))).astype(np.float32)


def rvs_noise(
    rng: np.random.Generator, shape: tuple[int, int], native_pixel_px: float | None
) -> np.ndarray:
    """Unit-variance float32 noise (k, n_pixels), correlated like a mean RVS spectrum's.

    White noise convolved with :func:`rvs_noise_kernel` (so each pixel keeps unit variance);
    ``None``: white noise.
    """
    k, n = shape
    if native_pixel_px is None:
        return rng.standard_normal((k, n), dtype=np.float32)
    w = rvs_noise_kernel(native_pixel_px)
    white = rng.standard_normal((k, n + w.size - 1), dtype=np.float32)
    out = w[0] * white[:, :n]
    for j in range(1, w.size):
        out += w[j] * white[:, j : j + n]
    return out


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
    flux: np.ndarray,
    snr: np.ndarray,
    target_snr: np.ndarray,
    rng: np.random.Generator,
    native_pixel_px: float | None = RVS_NATIVE_PIXEL_PX,
) -> np.ndarray:
    """(k, n_pixels) normalised spectra at S/N ``snr`` brought to ``target_snr`` (a copy).

    The added noise is :func:`rvs_noise` (``native_pixel_px`` None: white). Stars whose
    target is not below their S/N are returned unchanged.
    """
    flux = np.array(flux, dtype=np.float32)
    snr, target = np.asarray(snr, dtype=np.float64), np.asarray(target_snr, dtype=np.float64)
    rows = np.flatnonzero(np.isfinite(target) & (target < snr))
    if rows.size:
        sigma = np.sqrt(1.0 / target[rows] ** 2 - 1.0 / snr[rows] ** 2)
        noise = rvs_noise(rng, (rows.size, flux.shape[1]), native_pixel_px)
        flux[rows] += noise * sigma[:, None].astype(np.float32)
    return flux
