"""Continuum-normalised Gaia RVS mean spectra from the labels (Sect. 2.1, 3.5, 5.3, App. B).

The flux is exp(−τ) on the 2401-pixel grid (846.00-870.00 nm, vacuum, 0.01 nm), with τ a sum
of line profiles over a fixed line list, then convolved with a Gaussian LSF (R ≈ 11 500):

* Ca II triplet: saturated Doppler core + Lorentzian damping wings; core strength grows as
  log g falls, wings grow with log g (pressure), both with [Ca/H] = [M/H] + [α/M];
* Fe I, Cr II (Fe-peak, follow [M/H]) and Si I, Ti I, S I (α elements, follow [M/H] + [α/M]),
  each element shifted by the star's own offset from the labels (``ChemistryModel``),
  with temperature sensitivities of their kind (Ti I strong in cool stars, Si I/N I/S I in warm
  ones, neutral metals fading above ~8000 K), plus a fixed forest of weak blends;
* hydrogen Paschen lines growing above ~7000 K, Stark-broadened (dominant in OB stars);
* TiO bands below ~3850 K: a depressed, sloped pseudo-continuum with band structure.

The log g dependence is multiplied by ``cool_logg_sensitivity`` below ~5200 K so that cool
dwarfs and giants are nearly degenerate in the spectrum alone, as RVS spectra are (App. B).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

from ..augment import rvs_noise
from ..labels import N_PIXELS
from ..wavelength import WAVELENGTH_NM, air_to_vacuum
from .config import SpectrumModel

C_KMS = 299_792.458
N_PIX = N_PIXELS
_WL = WAVELENGTH_NM * 10.0  # Å
_DWL = 0.1
_THETA_SUN = 5040.0 / 5772.0


# Metal lines (air Å): species, abundance group, log τ0 for the Sun, d log τ / dθ (temperature:
# positive = stronger in cool stars), d log τ / d log g, and the Teff (K) where they fade out.
_METAL_LINES = [
    # Fe-peak: follow [M/H]
    (8468.41, "Fe I", "fe", -0.25, 2.2, -0.05, 8000.0),
    (8514.07, "Fe I", "fe", -0.25, 2.2, -0.05, 8000.0),
    (8515.11, "Fe I", "fe", -0.45, 2.2, -0.05, 8000.0),
    (8526.67, "Fe I", "fe", -0.55, 1.8, -0.05, 8000.0),
    (8538.02, "Fe I", "fe", -0.50, 2.5, -0.05, 8000.0),
    (8582.26, "Fe I", "fe", -0.65, 1.8, -0.05, 8000.0),
    (8592.95, "Fe I", "fe", -0.85, 2.2, -0.05, 8000.0),
    (8598.83, "Fe I", "fe", -0.75, 1.8, -0.05, 8000.0),
    (8611.80, "Fe I", "fe", -0.40, 2.2, -0.05, 8000.0),
    (8621.60, "Fe I", "fe", -0.55, 1.8, -0.05, 8000.0),
    (8674.75, "Fe I", "fe", -0.40, 2.2, -0.05, 8000.0),
    (8688.62, "Fe I", "fe", 0.05, 1.8, -0.05, 8000.0),
    (8551.00, "Cr II", "fe", -1.05, 0.3, -0.30, 9500.0),
    # α elements: follow [M/H] + [α/M]
    (8502.22, "Si I", "alpha", -0.65, -1.0, 0.00, 9000.0),
    (8536.16, "Si I", "alpha", -0.95, -1.0, 0.00, 9000.0),
    (8556.78, "Si I", "alpha", -0.35, -1.0, 0.00, 9000.0),
    (8595.96, "Si I", "alpha", -0.90, -1.0, 0.00, 9000.0),
    (8648.47, "Si I", "alpha", -0.40, -1.0, 0.00, 9000.0),
    (8518.35, "Ti I", "alpha", -1.45, 5.0, -0.05, 7000.0),
    (8548.08, "Ti I", "alpha", -1.60, 5.0, -0.05, 7000.0),
    (8682.98, "Ti I", "alpha", -1.40, 5.0, -0.05, 7000.0),
    (8692.33, "Ti I", "alpha", -1.75, 5.0, -0.05, 7000.0),
    (8694.63, "S I", "alpha", -1.30, -4.0, -0.10, 12000.0),
    # high-excitation lines of warm stars: V/N blend near 8650, N I
    (8649.90, "V II", "fe", -1.60, 0.5, -0.20, 9500.0),
    (8629.24, "N I", "fe", -2.10, -7.0, -0.20, 12000.0),
    (8683.40, "N I", "fe", -1.80, -7.0, -0.20, 12000.0),
]

_CAT_AIR = np.array([8498.02, 8542.09, 8662.14])
# relative oscillator strengths (log gf −1.31, −0.36, −0.62)
# effective strengths relative to 8542 (log gf −1.31, −0.36, −0.62, softened by saturation)
_CAT_GF = np.array([0.2, 1.0, 0.62])
#: deepest a saturated line core gets before the LSF
_D_MAX = 0.85
#: the Ca II triplet cores are filled in further (non-LTE, chromosphere): shallower cores
_D_CAT = 0.72
# Paschen lines Pa 12 … Pa 19 (air Å), wings of the outer ones reach into the band
_PASCHEN_AIR = {
    12: 8750.47,
    13: 8665.02,
    14: 8598.39,
    15: 8545.38,
    16: 8502.48,
    17: 8467.25,
    18: 8437.96,
    19: 8413.32,
}


def _forest() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A fixed forest of weak blends (same in every sky): centres (Å vac), log τ0, kind."""
    r = np.random.default_rng(20240117)
    n = 70
    centres = 8462.0 + 236.0 * r.random(n)
    log_tau = -2.0 + 1.2 * r.random(n)
    kind = r.integers(0, 3, n)  # 0: Fe-like, 1: α-like, 2: CN-like (cool giants)
    return centres, log_tau, kind


def _tio_comb() -> tuple[np.ndarray, np.ndarray]:
    """Fixed TiO band structure: line centres (Å) thinning from the blue band heads."""
    r = np.random.default_rng(8432)
    n = 160
    centres = 8460.0 + 240.0 * r.random(n) ** 1.6
    weights = 0.2 + 0.8 * r.random(n)
    return centres, weights


_FOREST_WL, _FOREST_LOGTAU, _FOREST_KIND = _forest()
_TIO_WL, _TIO_W = _tio_comb()
_METAL_WL = air_to_vacuum(np.array([line[0] for line in _METAL_LINES]))
_METAL_PARAMS = np.array([line[3:] for line in _METAL_LINES], dtype=float)
_METAL_ALPHA = np.array([line[2] == "alpha" for line in _METAL_LINES])
_METAL_ELEMENT = [line[1].split()[0].lower() for line in _METAL_LINES]
_CAT_WL = air_to_vacuum(_CAT_AIR)
_PA_N = np.array(list(_PASCHEN_AIR))
_PA_WL = air_to_vacuum(np.array(list(_PASCHEN_AIR.values())))


def logg_sensitivity(teff: np.ndarray, cool: float) -> np.ndarray:
    """Spectral log g leverage: ``cool`` below ~5000 K, 1 above ~5600 K (Appendix B)."""
    x = np.clip((teff - 5000.0) / 600.0, 0.0, 1.0)
    return cool + (1.0 - cool) * x * x * (3.0 - 2.0 * x)


def _fade(teff: np.ndarray, t_fade: float | np.ndarray) -> np.ndarray:
    # ionisation empties the neutral (or singly ionised) stage in hot atmospheres: log τ drop
    return 2.0 * np.log10(1.0 + np.exp(np.clip((teff - t_fade) / 500.0, -50, 50)))


def _window(centre: np.ndarray, half_width_px: int) -> tuple[slice, np.ndarray] | None:
    """Pixels within ``half_width_px`` of the stars' median line centre, and Δλ (Å) per row."""
    if centre.size == 0:
        return None
    p0 = int(round((np.median(centre) - _WL[0]) / _DWL))
    lo, hi = max(p0 - half_width_px, 0), min(p0 + half_width_px + 1, N_PIX)
    if lo >= hi:
        return None
    return slice(lo, hi), _WL[lo:hi][None, :] - centre[:, None]


def _add_gauss(tau, rows, centre, sigma, amp, half_width_px) -> None:
    """tau[rows, window] += amp · exp(−Δ²/2σ²) around per-row centres (Å)."""
    if (w := _window(centre, half_width_px)) is not None:
        cols, d = w
        tau[rows, cols] += amp[:, None] * np.exp(-0.5 * (d / sigma[:, None]) ** 2)


def _add_lorentz(tau, rows, centre, gamma, area, half_width_px) -> None:
    """tau[rows, window] += area · (γ/π) / (Δ² + γ²): damping / Stark wings."""
    if (w := _window(centre, half_width_px)) is not None:
        cols, d = w
        g = gamma[:, None]
        tau[rows, cols] += area[:, None] * (g / np.pi) / (d * d + g * g)


def intrinsic_flux(
    teff: np.ndarray,
    logg: np.ndarray,
    m_h: np.ndarray,
    alpha_m: np.ndarray,
    vbroad: np.ndarray,
    rv: np.ndarray,
    model: SpectrumModel,
    offsets: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """Normalised flux before the LSF, shape (n, 2401), float64.

    F = C(λ) · [1 − D_max (1 − e^−τ)]: D_max < 1 because a real line core does not go black
    (the source function at τ ≈ 1 is not zero); C is the TiO pseudo-continuum (1 elsewhere).
    ``offsets`` maps an element of ``OFFSET_ELEMENTS`` to its per-star [X/H] offset in dex
    (missing elements: none).
    """
    n = len(teff)
    offsets = offsets or {}

    def off(element: str) -> np.ndarray | float:
        return offsets.get(element, 0.0)

    tau = np.zeros((n, N_PIX))
    rows = slice(None)
    theta = 5040.0 / teff
    dth = theta - _THETA_SUN
    s = logg_sensitivity(teff, model.cool_logg_sensitivity)
    dlogg = s * (logg - 4.44)
    ca_h = m_h + alpha_m + off("ca")
    doppler = 1.0 + rv / C_KMS
    # Gaussian σ of a metal line: thermal + microturbulence + macroturbulence/rotation
    sig_v = np.sqrt(2.0**2 + vbroad**2)
    # ±3 Å holds a metal line of a slow rotator (≥ 5σ below 25 km/s); broad lines of fast
    # rotators are cut, harmless since their metal lines are weak (hot stars)
    width_px = 30

    # metal lines: log τ0 = ref + [X/H] + χ Δθ + γ_g s Δlog g − fade
    p = _METAL_PARAMS
    abund = np.where(_METAL_ALPHA[None, :], (m_h + alpha_m)[:, None], m_h[:, None])
    abund = abund + np.column_stack([np.broadcast_to(off(e), (n,)) for e in _METAL_ELEMENT])
    log_tau = (
        p[None, :, 0]
        + abund
        + p[None, :, 1] * dth[:, None]
        + p[None, :, 2] * dlogg[:, None]
        - _fade(teff[:, None], p[None, :, 3])
    )
    amp = 10.0 ** np.minimum(log_tau, 2.5)
    for j, wl0 in enumerate(_METAL_WL):
        centre = wl0 * doppler
        sig = np.maximum(wl0 * sig_v / C_KMS, 0.06)
        _add_gauss(tau, rows, centre, sig, amp[:, j], width_px)

    # weak-line forest: Fe-like, α-like (Ca, Si, Ti blends) and CN-like (molecular, strong in
    # cool giants)
    fk = _FOREST_KIND[None, :]
    alpha_h = m_h + alpha_m + (off("ca") + off("si") + off("ti")) / 3.0
    cn_h = m_h + off("n")
    forest_log = (
        _FOREST_LOGTAU[None, :]
        + np.select([fk == 1, fk == 2], [alpha_h[:, None], cn_h[:, None]], m_h[:, None])
        + np.where(fk == 2, 6.0, 3.0) * dth[:, None]
        + np.where(fk == 2, -0.35, -0.05) * dlogg[:, None]
        - _fade(teff[:, None], 7500.0)
    )
    forest_amp = 10.0 ** np.minimum(forest_log, 1.5)
    for j, wl0 in enumerate(_FOREST_WL):
        sig = np.maximum(wl0 * sig_v / C_KMS, 0.06)
        _add_gauss(tau, rows, wl0 * doppler, sig, forest_amp[:, j], width_px)

    # Ca II triplet: the core deepens as log g falls (luminosity effect), the damping wings
    # widen as log g rises (pressure); both scale with [Ca/H]; Ca II ionises above ~9500 K
    cat_log = ca_h + 0.6 * dth - _fade(teff, 9500.0)
    core_width = np.maximum(8542.0 * np.sqrt(3.0**2 + vbroad**2) / C_KMS, 0.08)
    core_tau = 3.0 * 10.0 ** (0.5 * cat_log - 0.25 * dlogg)
    wing_area = 11.0 * 10.0 ** (cat_log + 0.30 * dlogg)
    gamma = 0.35 * 10.0 ** (0.15 * dlogg)
    tau_cat = np.zeros((n, N_PIX))
    for j, wl0 in enumerate(_CAT_WL):
        gf = _CAT_GF[j]
        centre = wl0 * doppler
        _add_gauss(tau_cat, rows, centre, core_width, core_tau * gf, 40)
        _add_lorentz(tau_cat, rows, centre, gamma, wing_area * gf, 300)

    # Paschen lines: rise above ~7000 K, peak near 9500 K, Stark wings wider at high log g
    hot = np.flatnonzero(teff > 6000.0)
    if hot.size:
        th = teff[hot]
        strength = (1.0 / (1.0 + np.exp(-(th - 7800.0) / 450.0))) * (
            np.minimum(1.0, (10_000.0 / th) ** 1.3)
        )
        stark = 1.2 * 10.0 ** (0.3 * (logg[hot] - 4.0))
        for n_up, wl0 in zip(_PA_N, _PA_WL, strict=True):
            area = 6.0 * strength * (13.0 / n_up) ** 3
            centre = wl0 * doppler[hot]
            _add_lorentz(tau, hot, centre, stark, area, 450)
            core_sig = np.full(hot.size, 0.9)
            _add_gauss(tau, hot, centre, core_sig, 0.5 * strength * (13.0 / n_up) ** 2, 40)

    # TiO bands (band heads at 8432/8442/8452 Å degrade to the red): depressed, sloped
    # pseudo-continuum plus band structure; stronger at higher metallicity (Sect. 5.3)
    cool = np.flatnonzero(teff < 3900.0)
    tio = np.clip((3850.0 - teff[cool]) / 450.0, 0.0, None) ** 1.3 * 10.0 ** (0.4 * m_h[cool])
    for wl0, w in zip(_TIO_WL, _TIO_W, strict=True):
        if cool.size:
            centre = np.full(cool.size, wl0)
            _add_gauss(tau, cool, centre, np.full(cool.size, 0.25), 0.35 * w * tio, 8)
    flux = (1.0 - _D_MAX * -np.expm1(-tau)) * (1.0 - _D_CAT * -np.expm1(-tau_cat))
    if cool.size:
        slope = 0.12 + 0.45 * np.exp(-(_WL - 8440.0) / 60.0)
        flux[cool] *= np.exp(-tio[:, None] * slope[None, :])
    return flux


def lsf_convolve(flux: np.ndarray, resolving_power: float) -> np.ndarray:
    """Convolve (n, 2401) flux with a Gaussian LSF of FWHM λ/R at 858 nm (edges replicated)."""
    sigma_px = 8580.0 / resolving_power / 2.3548 / _DWL
    return gaussian_filter1d(flux, sigma_px, axis=1, mode="nearest", truncate=5.0)


def emission(teff: np.ndarray, rng: np.random.Generator, n: int, rv: np.ndarray) -> np.ndarray:
    """Emission to add to the flux of ELS stars: Be-like Paschen + Ca II emission when hot,
    chromospheric Ca II core emission when cool (what classlabel_espels flags, Sect. 2.3)."""
    em = np.zeros((n, N_PIX))
    rows = slice(None)
    amp = 0.3 + 1.2 * rng.random(n)
    hot = teff > 9000.0
    doppler = 1.0 + rv / C_KMS
    wide = np.where(hot, 1.2, 0.35)
    for wl0 in _CAT_WL:
        _add_gauss(em, rows, wl0 * doppler, wide, amp * np.where(hot, 1.0, 0.6), 60)
    for wl0 in _PA_WL[1:6]:
        _add_gauss(em, rows, wl0 * doppler, np.full(n, 1.2), amp * hot, 60)
    return em


def synthesize(
    rng: np.random.Generator,
    teff: np.ndarray,
    logg: np.ndarray,
    m_h: np.ndarray,
    alpha_m: np.ndarray,
    vbroad: np.ndarray,
    rv_residual: np.ndarray,
    snr: np.ndarray,
    anomaly: np.ndarray,
    model: SpectrumModel,
    offsets: dict[str, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Noisy spectra: (flux float32, flux_error float32, noiseless flux float32), (n, 2401).

    Noise: σ_pix = sqrt(F) / SNR, raised towards the band-pass edges; a share of spectra gets
    NaN runs (an edge or a gap), as some Gaia RVS spectra do (Sect. 2.1).
    """
    n = len(teff)
    flux = intrinsic_flux(teff, logg, m_h, alpha_m, vbroad, rv_residual, model, offsets)
    # SB2 binaries: a companion of similar type at another velocity blends in
    sb2 = np.flatnonzero(anomaly == "binary")
    k_vel = 25.0 + 60.0 * rng.random(n)
    if sb2.size:
        i = sb2
        flux2 = intrinsic_flux(
            teff[i] * 0.95,
            logg[i],
            m_h[i],
            alpha_m[i],
            vbroad[i],
            rv_residual[i] + k_vel[i],
            model,
            {k: v[i] for k, v in (offsets or {}).items()},
        )
        flux[i] = (flux[i] + 0.6 * flux2) / 1.6
    em_rows = np.flatnonzero(anomaly == "emission")
    em_all = emission(teff[em_rows], rng, em_rows.size, rv_residual[em_rows])
    if em_rows.size:
        flux[em_rows] += em_all
    flux = lsf_convolve(flux, model.resolving_power)

    edge = np.minimum(np.arange(N_PIX), np.arange(N_PIX)[::-1]) / 100.0
    edge_boost = 1.0 + model.edge_noise_boost * np.exp(-edge)
    sigma = np.sqrt(np.clip(flux, 0.05, 2.0)) * edge_boost[None, :] / snr[:, None]
    noise = rvs_noise(rng, (n, N_PIX), model.noise_native_pixel_px)
    observed = (flux + sigma * noise).astype(np.float32)
    err_scatter = 1.0 + 0.05 * rng.standard_normal((n, 1))
    flux_error = (sigma * err_scatter).astype(np.float32)

    # NaN runs: an edge run or an interior gap, in a few spectra
    u = rng.random((4, n))
    has_nan = u[0] < model.nan_share
    at_edge = u[1] < model.nan_edge_share
    length = (3 + 37 * u[2]).astype(int)
    start = np.where(
        at_edge,
        np.where(u[3] < 0.5, 0, N_PIX - length),
        (50 + (N_PIX - 150) * u[3]).astype(int),
    )
    pix = np.arange(N_PIX)[None, :]
    mask = has_nan[:, None] & (pix >= start[:, None]) & (pix < (start + length)[:, None])
    observed[mask] = np.nan
    flux_error[mask] = np.nan
    return observed, flux_error, flux.astype(np.float32)


def model_spectrum(
    teff: np.ndarray,
    logg: np.ndarray,
    m_h: np.ndarray,
    alpha_m: np.ndarray,
    vbroad: np.ndarray | None = None,
    model: SpectrumModel | None = None,
    offsets: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """Noiseless, LSF-convolved spectra at rest (for tests, plots and docs), (n, 2401)."""
    model = model or SpectrumModel()
    teff = np.atleast_1d(np.asarray(teff, dtype=float))
    shape = teff.shape
    args = [np.broadcast_to(np.asarray(x, dtype=float), shape) for x in (logg, m_h, alpha_m)]
    vb = np.broadcast_to(4.0 if vbroad is None else np.asarray(vbroad, float), shape)
    offsets = {k: np.broadcast_to(np.asarray(v, float), shape) for k, v in (offsets or {}).items()}
    flux = intrinsic_flux(teff, *args, vb, np.zeros(shape), model, offsets)
    return lsf_convolve(flux, model.resolving_power)
