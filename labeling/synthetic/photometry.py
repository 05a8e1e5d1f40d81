"""Photometry and astrometry from the labels: G, G_BP, G_RP, parallax, extinction (Sect. 2.2).

L/Lsun = (M/Msun)(Teff/5772)^4 / 10^(log g − 4.438); a bolometric correction and an intrinsic
BP−RP from Teff (and a little [M/H]); a distance that puts the star at the G_RVS its S/N asks
for, with A_V from a dust layer growing along the line of sight. Parallax and magnitudes then
carry the luminosity, hence log g, that the spectrum alone only weakly fixes (Appendix B).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .astrometry import sample_galactic
from .config import ExtinctionModel, SkyConfig, SnrModel

# Teff (K), BC_G (mag), intrinsic BP−RP (mag): a smooth dwarf/giant compromise
# (after Mamajek's table and Andrae et al. 2018 for BC_G).
_TABLE = np.array(
    [
        (3000, -1.30, 3.20),
        (3300, -0.85, 2.60),
        (3600, -0.55, 2.10),
        (3900, -0.33, 1.75),
        (4200, -0.20, 1.50),
        (4500, -0.10, 1.30),
        (4800, -0.03, 1.13),
        (5200, 0.03, 0.96),
        (5772, 0.07, 0.82),
        (6200, 0.08, 0.70),
        (6600, 0.07, 0.60),
        (7000, 0.04, 0.50),
        (7500, 0.00, 0.40),
        (8500, -0.08, 0.20),
        (10000, -0.25, 0.00),
        (13000, -0.70, -0.15),
        (20000, -1.70, -0.30),
        (30000, -2.80, -0.40),
    ]
)
_LOG_T = np.log10(_TABLE[:, 0])

#: Gaia photometric zero points (VEGAMAG, e-/s), Riello et al. 2021
ZP_G, ZP_BP, ZP_RP = 25.6874, 25.3385, 24.7479


def bolometric_correction_g(teff: np.ndarray) -> np.ndarray:
    """BC_G (mag) from Teff (K)."""
    return np.interp(np.log10(teff), _LOG_T, _TABLE[:, 1])


def intrinsic_bp_rp(teff: np.ndarray, m_h: np.ndarray) -> np.ndarray:
    """(BP−RP)_0 (mag): from Teff, metal-poor stars a little bluer."""
    return np.interp(np.log10(teff), _LOG_T, _TABLE[:, 2]) + 0.05 * np.clip(m_h, -2.5, 0.5)


def g_minus_rp(bp_rp: np.ndarray) -> np.ndarray:
    """G − G_RP (mag) as a function of BP−RP (a cubic close to Gaia DR3's locus)."""
    c = np.clip(bp_rp, -0.6, 5.0)
    return -0.02 + 0.68 * c - 0.12 * c**2 + 0.01 * c**3


def absolute_g(teff: np.ndarray, logg: np.ndarray, mass: np.ndarray) -> np.ndarray:
    """M_G (mag) from L = M (Teff/5772)^4 / 10^(log g − 4.438) and BC_G."""
    log_l = np.log10(mass) + 4.0 * np.log10(teff / 5772.0) - (logg - 4.438)
    return 4.74 - 2.5 * log_l - bolometric_correction_g(teff)


def extinction_av(
    distance_pc: np.ndarray, lat_deg: np.ndarray, patch: np.ndarray, model: ExtinctionModel
) -> np.ndarray:
    """A_V (mag) integrated through an exponential dust layer; ``patch`` is a per-star factor."""
    sinb = np.maximum(np.abs(np.sin(np.radians(lat_deg))), 1e-3)
    h = model.scale_height_pc
    path = h / sinb * -np.expm1(-distance_pc * sinb / h)  # pc of in-plane-equivalent dust
    return np.minimum(model.av_per_kpc * path / 1000.0 * patch, model.av_max)


@dataclass
class Photometry:
    lon: np.ndarray  # galactic, deg
    lat: np.ndarray
    distance_pc: np.ndarray
    a_v: np.ndarray
    a_g: np.ndarray
    e_bp_rp: np.ndarray
    abs_g: np.ndarray
    g: np.ndarray
    bp: np.ndarray
    rp: np.ndarray
    grvs: np.ndarray
    snr: np.ndarray


def sample_snr(rng: np.random.Generator, n: int, model: SnrModel) -> np.ndarray:
    """rvs_spec_sig_to_noise: a third log-uniform in 15-25, then ∝ SNR^-slope per dex (Fig. 1)."""
    u_branch, u = rng.random(n), rng.random(n)
    lo, mid, hi = np.log10([model.snr_min, model.snr_low_max, model.snr_max])
    low = lo + (mid - lo) * u
    k = model.tail_slope * np.log(10.0)
    # inverse CDF of p(x) ∝ exp(−k (x − mid)) on [mid, hi], x = log10 SNR
    tail = mid - np.log1p(-u * -np.expm1(-k * (hi - mid))) / k
    return 10.0 ** np.where(u_branch < model.low_share, low, tail)


def sample_photometry(
    rng: np.random.Generator,
    population: np.ndarray,
    teff: np.ndarray,
    logg: np.ndarray,
    m_h: np.ndarray,
    mass: np.ndarray,
    config: SkyConfig,
) -> Photometry:
    """Distances, extinction and apparent magnitudes consistent with each star's S/N.

    Most stars: draw S/N (Fig. 1), turn it into G_RVS (≈ G_RP) and solve for the distance
    where M_RP + 5 log10(d/10) + A_RP(d) = G_RVS (bisection, vectorised). Nearby cool dwarfs:
    draw d < 140 pc (parallax > 7 mas, Sect. 5.3) and derive G_RVS and S/N from it.
    """
    n = len(teff)
    snr_cfg, ext = config.snr, config.extinction
    snr = sample_snr(rng, n, snr_cfg)
    grvs = (
        snr_cfg.grvs_at_snr_min
        - snr_cfg.grvs_per_dex * np.log10(snr / snr_cfg.snr_min)
        + snr_cfg.grvs_scatter * rng.standard_normal(n)
    )
    bright = rng.random(n) < snr_cfg.bright_share
    b_lo, b_hi = snr_cfg.bright_grvs
    grvs = np.where(bright, b_lo + (b_hi - b_lo) * rng.random(n), grvs)
    snr = np.where(bright, 10.0 ** (2.5 + 0.7 * rng.random(n)), snr)
    patch = 10.0 ** (ext.patchiness_dex * rng.standard_normal(n))
    u_near = rng.random(n)

    abs_g = absolute_g(teff, logg, mass)
    c0 = intrinsic_bp_rp(teff, m_h)
    abs_rp = abs_g - g_minus_rp(c0)

    near = population == "nearby_cool_dwarf"
    # nearby dwarfs: volume-like density between 8 pc and the S/N-15 horizon (≤ 140 pc)
    d_horizon = 10.0 ** ((snr_cfg.grvs_at_snr_min - 0.3 - abs_rp) / 5.0 + 1.0)
    d_max = np.clip(d_horizon, 12.0, 140.0)
    d_near = (8.0**3 + u_near * (d_max**3 - 8.0**3)) ** (1.0 / 3.0)
    # dust-free distance: sets how close to the plane a disc star must lie
    d_free = np.where(near, d_near, 10.0 ** ((grvs + 0.05 - abs_rp) / 5.0 + 1.0))
    lon, lat = sample_galactic(rng, population, d_free)

    # bisection on log10 d: G_RVS is monotonic in d
    lo = np.full(n, 0.5)
    hi = np.full(n, 4.5)
    for _ in range(36):
        mid = 0.5 * (lo + hi)
        d = 10.0**mid
        model_rp = abs_rp + 5.0 * mid - 5.0 + ext.arp_per_av * extinction_av(d, lat, patch, ext)
        too_bright = model_rp - 0.05 < grvs
        lo = np.where(too_bright, mid, lo)
        hi = np.where(too_bright, hi, mid)
    distance = 10.0 ** (0.5 * (lo + hi))

    distance = np.where(near, d_near, distance)

    a_v = extinction_av(distance, lat, patch, ext)
    dm = 5.0 * np.log10(distance) - 5.0
    a_g, a_bp, a_rp = ext.ag_per_av * a_v, ext.abp_per_av * a_v, ext.arp_per_av * a_v
    g = abs_g + dm + a_g
    rp = abs_rp + dm + a_rp
    bp = rp + c0 + a_bp - a_rp
    grvs_phys = rp - 0.05
    # stars whose distance hit the bisection bounds, and nearby dwarfs, get S/N from G_RVS
    off = np.abs(grvs_phys - grvs) > 0.05
    snr_from_mag = snr_cfg.snr_min * 10.0 ** (
        (snr_cfg.grvs_at_snr_min - grvs_phys) / snr_cfg.grvs_per_dex
    )
    snr = np.where(near | (off & ~bright), np.clip(snr_from_mag, snr_cfg.snr_min, 3000.0), snr)
    return Photometry(
        lon=lon,
        lat=lat,
        distance_pc=distance,
        a_v=a_v,
        a_g=a_g,
        e_bp_rp=a_bp - a_rp,
        abs_g=abs_g,
        g=g,
        bp=bp,
        rp=rp,
        grvs=grvs_phys,
        snr=snr,
    )


def parallax_error(g: np.ndarray) -> np.ndarray:
    """σ_ϖ (mas) as a function of G: ~0.02 mas at G < 13, ~0.04 at G = 15 (Lindegren+21)."""
    return 0.016 + 0.011 * 10.0 ** (0.3 * (np.maximum(g, 9.0) - 13.0))


def flux_over_error(
    rng: np.random.Generator, mag: np.ndarray, top: float, slope: float, variable: np.ndarray
) -> np.ndarray:
    """phot_*_mean_flux_over_error: high for bright stars, lower for faint and variable ones."""
    foe = 10.0 ** (top - slope * np.maximum(mag - 10.0, 0.0) + 0.12 * rng.standard_normal(len(mag)))
    return np.where(variable, foe * 0.15, foe)
