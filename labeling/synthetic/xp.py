"""XP continuous coefficients: a smooth SED projected on 55 Hermite functions per band (Sect. 2.3).

The SED is a Planck curve with metal line blanketing in the blue ([M/H]) and Mg b and Ca II
features ([α/M]), both fading from K stars to A stars, hydrogen Balmer and Paschen lines
(Teff), TiO bands in cool stars, a Balmer jump in hot ones and A_V-scaled reddening, times a
smooth BP or RP response. The first coefficient is the band flux in e-/s (∝ 10^(−0.4 G_BP)
or 10^(−0.4 G_RP)), which the CNN divides by (Sect. 3.1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import XpModel
from .photometry import ZP_BP, ZP_RP

N_COEFF = 55
_N_SAMPLES = 240
_BANDS = {"bp": (320.0, 690.0), "rp": (620.0, 1060.0)}


def _hermite_functions(x: np.ndarray, n: int) -> np.ndarray:
    """Orthonormal Hermite functions ψ_0 … ψ_{n−1} at x, shape (len(x), n)."""
    out = np.empty((len(x), n))
    out[:, 0] = np.pi**-0.25 * np.exp(-0.5 * x * x)
    out[:, 1] = np.sqrt(2.0) * x * out[:, 0]
    for k in range(2, n):
        out[:, k] = np.sqrt(2.0 / k) * x * out[:, k - 1] - np.sqrt((k - 1) / k) * out[:, k - 2]
    return out


@dataclass(frozen=True)
class _Band:
    wl: np.ndarray  # nm
    response: np.ndarray
    projector: np.ndarray  # (samples, 55): SED samples → coefficients
    zero_point: float


def _band(name: str) -> _Band:
    lo, hi = _BANDS[name]
    wl = np.linspace(lo, hi, _N_SAMPLES)
    # pseudo-wavelength: the band mapped onto the Hermite functions' support
    x = np.linspace(-9.5, 9.5, _N_SAMPLES)
    basis = _hermite_functions(x, N_COEFF)
    dx = x[1] - x[0]
    edge = 12.0
    response = 1.0 / (
        (1.0 + np.exp(-(wl - lo - 25.0) / edge)) * (1.0 + np.exp((wl - hi + 25.0) / edge))
    )
    # coefficients are rescaled per star so that coefficient 0 is the band flux
    projector = basis * dx
    zp = ZP_BP if name == "bp" else ZP_RP
    return _Band(wl=wl, response=response, projector=projector, zero_point=zp)


_BP, _RP = _band("bp"), _band("rp")

#: Balmer Hα–Hδ (nm, equivalent width relative to Hα) and Paschen P9–P19 (nm). The hydrogen
#: lines' strengths depend on Teff and not on dust, which breaks the Teff–A_V degeneracy of
#: the continuum as in real XP spectra (without them, faint reddened stars got XP Teff 2x worse
#: than bright ones; docs/synthetic-sky.md).
_BALMER = ((656.28, 1.0), (486.13, 0.75), (434.05, 0.55), (410.17, 0.4))
_PASCHEN = (1004.9, 954.6, 922.9, 901.5, 886.3, 875.0, 866.5, 859.8, 854.5, 850.2, 846.7)
_LINE_SIGMA_NM = 2.0


def hydrogen_ew_nm(teff: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Equivalent widths in nm of Hα and of each Paschen line, peaking at 9 500 K (A stars).

    Hα: 0.9 Å at 4 500 K, 3.8 Å at 5 800 K (the Sun: ~4 Å), 6 Å at 6 500 K, 12 Å at the peak;
    the Paschen lines fade faster towards cool stars (0.3 Å each at 6 500 K).
    """
    x = np.log10(np.asarray(teff, dtype=float) / 9500.0)
    h_alpha = 1.2 * np.exp(-((x / 0.2) ** 2))
    return h_alpha, 0.35 * h_alpha * np.exp(-((x / 0.12) ** 2))


def _hydrogen(wl: np.ndarray, teff: np.ndarray, strength: float) -> np.ndarray:
    """Transmission of the hydrogen lines on ``wl`` (nm), shape (len(teff), len(wl))."""
    h_alpha, paschen = hydrogen_ew_nm(teff)
    h_alpha, paschen = strength * h_alpha, strength * paschen
    lines = [(lam, h_alpha * r) for lam, r in _BALMER] + [(lam, paschen) for lam in _PASCHEN]
    norm = 1.0 / (_LINE_SIGMA_NM * np.sqrt(2.0 * np.pi))
    depth = np.zeros((len(h_alpha), len(wl)))
    for lam, ew in lines:
        depth += ew[:, None] * (norm * np.exp(-0.5 * ((wl - lam) / _LINE_SIGMA_NM) ** 2))[None, :]
    return np.clip(1.0 - depth, 0.05, 1.0)


def _sed(band: _Band, teff, m_h, alpha_m, a_v, model: XpModel = XpModel()) -> np.ndarray:  # noqa: B008
    """Photon SED × response on the band's samples, (n, samples), arbitrary scale."""
    wl = band.wl[None, :]
    t = teff[:, None]
    # Planck in photons: λ^-4 / (exp(hc/λkT) − 1), λ in nm
    planck = wl**-4.0 / np.expm1(np.minimum(1.4388e7 / (wl * t), 600.0))
    met = 10.0 ** (0.35 * m_h[:, None])
    cool = np.clip((model.metal_lines_fade_k - t) / (model.metal_lines_fade_k - 3500.0), 0.0, 1.0)
    blanket = 1.0 - np.clip(0.35 * met * cool * np.exp(-(wl - 330.0) / 90.0), 0.0, 0.8)
    alpha = 10.0 ** (m_h[:, None] + alpha_m[:, None])
    features = 1.0 - 0.08 * np.clip(alpha, 0.0, 2.0) * cool * (
        np.exp(-0.5 * ((wl - 517.0) / 6.0) ** 2) + 0.8 * np.exp(-0.5 * ((wl - 856.0) / 10.0) ** 2)
    )
    tio = np.clip((4000.0 - t) / 800.0, 0.0, None) ** 1.3 * 10.0 ** (0.3 * m_h[:, None])
    tio_bands = np.exp(
        -tio
        * (
            0.5 * (np.abs(wl - 715.0) < 25.0)
            + 0.6 * (np.abs(wl - 765.0) < 20.0)
            + 0.4 * (np.abs(wl - 850.0) < 40.0)
            + 0.3 * ((wl > 620.0) & (wl < 680.0))
        )
    )
    hot = np.clip((t - 7000.0) / 5000.0, 0.0, 1.0)
    balmer = 1.0 - 0.45 * hot * (wl < 365.0)
    dust = 10.0 ** (-0.4 * a_v[:, None] * (wl / 550.0) ** -1.3)
    hydrogen = _hydrogen(band.wl, teff, model.hydrogen_line_strength)
    return (
        planck * blanket * features * hydrogen * tio_bands * balmer * dust * band.response[None, :]
    )


def xp_coefficients(
    rng: np.random.Generator,
    teff: np.ndarray,
    m_h: np.ndarray,
    alpha_m: np.ndarray,
    a_v: np.ndarray,
    bp_mag: np.ndarray,
    rp_mag: np.ndarray,
    anomaly: np.ndarray,
    model: XpModel = XpModel(),  # noqa: B008
) -> dict[str, np.ndarray]:
    """The XP_CONTINUOUS columns (bp/rp coefficients, errors, standard deviations, bases)."""
    n = len(teff)
    out: dict[str, np.ndarray] = {}
    for name, band, mag in (("bp", _BP, bp_mag), ("rp", _RP, rp_mag)):
        sed = _sed(band, teff, m_h, alpha_m, a_v, model)
        shape = sed @ band.projector
        flux = 10.0 ** (-0.4 * (mag - band.zero_point))  # e-/s in the band
        coeff = shape / shape[:, :1] * flux[:, None]
        # photon noise 0.02 √flux per coefficient plus a 4e-4 calibration floor: the errors of
        # the DR3 XP_CONTINUOUS files in ../shared/data (coefficient 1 of BP at 7 686 e-/s:
        # 3.55, this gives 3.55; at 56 947 e-/s: 21-48 over the coefficients, this 23)
        k = np.arange(N_COEFF)[None, :]
        err = np.sqrt(
            (0.02 * np.sqrt(flux)[:, None] * (1.0 + 0.01 * k)) ** 2 + (4e-4 * flux[:, None]) ** 2
        )
        err = err * np.exp(0.1 * rng.standard_normal((n, N_COEFF)))
        coeff = coeff + err * rng.standard_normal((n, N_COEFF))
        noisy = np.isin(anomaly, ("variable", "binary"))
        std = 1.0 + np.abs(0.12 * rng.standard_normal(n)) + noisy * 0.8 * rng.random(n)
        relevant = np.clip((np.abs(coeff) > 2.0 * err).sum(axis=1), 5, N_COEFF)
        out[f"{name}_coefficients"] = coeff
        out[f"{name}_coefficient_errors"] = err.astype(np.float32)
        out[f"{name}_standard_deviation"] = std.astype(np.float32)
        out[f"{name}_n_relevant_bases"] = relevant.astype(np.int16)
    return out
