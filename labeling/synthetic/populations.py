"""Stellar populations and their labels: Teff, log g, [M/H], [α/M], [Fe/H], mass.

Giants (RGB + red clump) and FGK dwarfs of the thin disc, thick disc and halo make the bulk,
with the two-sequence [α/M]-[M/H] pattern of Sect. 7; OB stars, M giants and nearby cool dwarfs
are the populations outside the APOGEE training set (Sect. 5.3).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import ANOMALIES, POPULATIONS, ChemistryModel, SkyConfig


@dataclass
class Labels:
    """Per-star physical truth (all 1-D, length n)."""

    population: np.ndarray  # str
    stage: np.ndarray  # str: dwarf, subgiant, rgb, red_clump, m_giant, ob
    anomaly: np.ndarray  # str, '' for none
    teff: np.ndarray  # K
    logg: np.ndarray  # dex (cgs)
    m_h: np.ndarray  # dex
    alpha_m: np.ndarray  # dex
    fe_h: np.ndarray  # dex
    mass: np.ndarray  # Msun
    vbroad: np.ndarray  # km/s, Gaussian line broadening (macroturbulence + rotation)


#: Elements whose RVS lines follow their own abundance offset (truth columns ``d_<name>``):
#: Ca, Si, Ti, S relative to [M/H] + [α/M]; Cr, V relative to [M/H]; N for N I and CN blends.
OFFSET_ELEMENTS: tuple[str, ...] = ("ca", "si", "ti", "s", "cr", "v", "n")


def sample_abundance_offsets(
    rng: np.random.Generator, n: int, model: ChemistryModel
) -> dict[str, np.ndarray]:
    """Per-star [X/H] offsets (dex) from what the labels give, one array per element."""
    g = rng.standard_normal((len(OFFSET_ELEMENTS), n))
    scale = [model.element_scatter_dex] * (len(OFFSET_ELEMENTS) - 1) + [model.cn_scatter_dex]
    return {name: s * row for name, s, row in zip(OFFSET_ELEMENTS, scale, g, strict=True)}


def _choose(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """Index drawn per row from a (n, k) table of probabilities (rows sum to 1)."""
    cdf = np.cumsum(probs, axis=1)
    u = rng.random(len(probs))[:, None] * cdf[:, -1:]
    return np.minimum((u > cdf).sum(axis=1), probs.shape[1] - 1)


def _alpha_low(m_h: np.ndarray) -> np.ndarray:
    # thin-disc (low-α) sequence: ~0 at solar, rising gently to the metal-poor end
    return np.clip(-0.08 * m_h, -0.03, 0.12)


def _alpha_high(m_h: np.ndarray) -> np.ndarray:
    # thick-disc (high-α) sequence: a plateau at ~0.3 bending down above [M/H] ≈ −0.6
    return np.where(m_h < -0.6, 0.30, 0.30 - 0.25 * (m_h + 0.6))


def sample_labels(rng: np.random.Generator, n: int, config: SkyConfig) -> Labels:
    """Draw populations, anomalies and labels for n stars (paper Sect. 2.4, 2.6, 5.3, 7)."""
    pop_idx = _choose(rng, np.tile(np.array(config.populations.fractions()), (n, 1)))
    population = np.array(POPULATIONS, dtype=object)[pop_idx].astype(str)
    is_ = {name: pop_idx == i for i, name in enumerate(POPULATIONS)}

    # Draw every ingredient for every star, then pick per population: fixed rng consumption
    # keeps the sky deterministic and the code vectorised.
    g = rng.standard_normal((8, n))
    u = rng.random((6, n))

    # --- metallicity distribution functions and α sequences
    m_thin = np.clip(-0.05 + 0.22 * g[0], -1.0, 0.55)
    m_thick = np.clip(-0.55 + 0.28 * g[0], -1.6, 0.3)
    m_halo = np.clip(-1.45 + 0.50 * g[0], -2.8, -0.6)
    m_young = np.clip(0.0 + 0.10 * g[0], -0.4, 0.3)
    disc_thin = is_["thin_disc_giant"] | is_["thin_disc_dwarf"] | is_["nearby_cool_dwarf"]
    thick = is_["thick_disc_giant"] | is_["thick_disc_dwarf"]
    halo = is_["halo_giant"] | is_["halo_dwarf"]
    m_h = np.select([disc_thin | is_["m_giant"], thick, halo], [m_thin, m_thick, m_halo], m_young)
    alpha_scatter = 0.03 * g[1]
    # a few accreted halo stars sit on the low-α sequence
    halo_low = u[0] < 0.25
    alpha_m = np.select(
        [thick, halo & ~halo_low, halo & halo_low, is_["ob_star"]],
        [_alpha_high(m_h), _alpha_high(m_h), _alpha_low(m_h) + 0.05, np.zeros(n)],
        _alpha_low(m_h),
    )
    alpha_m = alpha_m + alpha_scatter
    # APOGEE's [M/H] counts α elements too, so [Fe/H] sits a little below it when α-rich
    fe_h = m_h - 0.25 * alpha_m + 0.02 + 0.025 * g[2]

    # --- giants: red clump or RGB; Teff follows a metallicity-dependent giant branch
    giant = is_["thin_disc_giant"] | is_["thick_disc_giant"] | is_["halo_giant"]
    clump = giant & ~halo & (u[1] < config.populations.red_clump_share)
    # magnitude-limited samples favour luminous giants: log g skewed low
    logg_rgb = 1.0 + 2.5 * u[2] ** 0.6
    teff_rgb = 4600.0 + 330.0 * (logg_rgb - 2.5) - 220.0 * m_h + 60.0 * g[3]
    logg_rc = 2.45 + 0.08 * g[4]
    teff_rc = 4720.0 - 230.0 * m_h + 70.0 * g[3]
    # --- FGK dwarfs and subgiants; a few hot F stars cross 7000 K (Paschen lines appear)
    teff_ms = 4800.0 + 2600.0 * u[3] ** 1.3
    teff_ms = teff_ms + np.where(halo, 250.0, 0.0)  # metal-poor turn-off is hotter
    logg_zams = 4.62 - 0.40 * (teff_ms - 4800.0) / 2200.0
    evolved = rng.exponential(0.22, n)
    logg_ms = np.clip(logg_zams - evolved, 3.5, 4.75) + 0.03 * g[4]
    # --- hot OB stars: 10 000 - 30 000 K, near the main sequence
    teff_ob = 10.0 ** (4.0 + 0.48 * u[4])
    logg_ob = np.clip(4.25 - 0.5 * u[5] - 0.3 * (np.log10(teff_ob) - 4.0), 3.3, 4.4)
    # --- M giants (TiO): 3050 - 3600 K, the tip of the giant branch
    teff_mg = 3050.0 + 550.0 * u[4]
    logg_mg = np.clip(0.05 + 1.6 * (teff_mg - 3050.0) / 550.0 + 0.15 * g[5], -0.3, 1.5)
    # --- nearby cool K/M dwarfs (parallax > 7 mas)
    teff_cd = 3300.0 + 1700.0 * u[5]
    logg_cd = 4.62 + 0.35 * (5000.0 - teff_cd) / 1700.0 + 0.04 * g[6]

    conds = [clump, giant, is_["ob_star"], is_["m_giant"], is_["nearby_cool_dwarf"]]
    teff = np.select(conds, [teff_rc, teff_rgb, teff_ob, teff_mg, teff_cd], teff_ms)
    logg = np.select(conds, [logg_rc, logg_rgb, logg_ob, logg_mg, logg_cd], logg_ms)
    stage = np.select(
        conds,
        ["red_clump", "rgb", "ob", "m_giant", "dwarf"],
        np.where(logg_ms < 3.95, "subgiant", "dwarf"),
    ).astype(str)

    # --- mass prior (Msun): feeds L = M (Teff/5772)^4 / 10^(logg − 4.438)
    mass_giant = np.clip(np.exp(np.log(1.25) + 0.25 * g[7]), 0.8, 3.0)
    mass_old = np.clip(0.9 + 0.06 * g[7], 0.75, 1.05)
    mass_ms = np.clip((teff_ms / 5772.0) ** 1.8 * np.exp(0.06 * g[7]), 0.6, 2.2)
    mass_ob = np.clip(2.6 * (teff_ob / 10_000.0) ** 1.6, 2.0, 25.0)
    mass_cd = np.clip(0.75 * (teff_cd / 5000.0) ** 2.5, 0.15, 0.8)
    mass = np.select(
        [giant & (thick | halo), giant | is_["m_giant"], is_["ob_star"], is_["nearby_cool_dwarf"]],
        [mass_old, mass_giant, mass_ob, mass_cd],
        np.where(thick | halo, np.minimum(mass_ms, 1.0), mass_ms),
    )

    vbroad = np.select(
        [is_["ob_star"], teff > 6300.0, giant | is_["m_giant"]],
        [40.0 + 120.0 * u[0], 6.0 + 25.0 * u[0] ** 2, 4.0 + 2.0 * u[0]],
        3.0 + 2.5 * u[0],
    )

    anomaly = _sample_anomalies(rng, population, config)
    return Labels(
        population=population,
        stage=stage,
        anomaly=anomaly,
        teff=teff,
        logg=logg,
        m_h=m_h,
        alpha_m=alpha_m,
        fe_h=fe_h,
        mass=mass,
        vbroad=vbroad,
    )


def _sample_anomalies(
    rng: np.random.Generator, population: np.ndarray, config: SkyConfig
) -> np.ndarray:
    rates = config.anomalies
    n = len(population)
    probs = np.empty((n, len(ANOMALIES) + 1))
    for j, name in enumerate(ANOMALIES):
        probs[:, j] = getattr(rates, name)
    probs[population == "m_giant", ANOMALIES.index("variable")] = rates.variable_m_giant
    probs[population == "ob_star", ANOMALIES.index("emission")] = rates.emission_ob
    probs[:, -1] = 1.0 - probs[:, :-1].sum(axis=1)
    idx = _choose(rng, probs)
    return np.array((*ANOMALIES, ""), dtype=object)[idx].astype(str)
