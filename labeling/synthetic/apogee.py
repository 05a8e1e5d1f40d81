"""An APOGEE DR17 allStar-like subset: selection, labels with errors, flags (Sect. 2.4).

APOGEE picks giants preferentially, few metal-poor stars and none of the OB, M-giant or
nearby-cool-dwarf populations. Labels are truth + noise at the quoted error. A few rows fail
each of the paper's quality cuts; some stars appear twice (other TELESCOPE/FIELD), some rows
have no Gaia id (GAIAEDR3_SOURCE_ID = 0) or a Gaia id outside the RVS sample.
"""

from __future__ import annotations

import numpy as np

from .astrometry import apogee_ids, galactic_to_icrs, make_source_ids
from .config import POPULATIONS, SkyConfig

#: ASPCAPFLAG bits the paper rejects on (Sect. 2.4)
STAR_WARN_BIT = 7
STAR_BAD_BIT = 23
#: harmless bits set now and then (TEFF_WARN, LOGG_WARN, M_H_WARN …) so masks matter
_OTHER_BITS = (0, 1, 3, 4, 9, 16)

_COLUMNS = (
    "APOGEE_ID",
    "TELESCOPE",
    "FIELD",
    "GAIAEDR3_SOURCE_ID",
    "TEFF",
    "TEFF_ERR",
    "LOGG",
    "LOGG_ERR",
    "M_H",
    "M_H_ERR",
    "FE_H",
    "FE_H_ERR",
    "ALPHA_M",
    "ALPHA_M_ERR",
    "ASPCAPFLAG",
    "ASPCAP_CHI2",
    "FE_H_FLAG",
    "SNR",
)


def selection_probability(population: np.ndarray, config: SkyConfig) -> np.ndarray:
    """P(star observed by APOGEE), normalised so the expected share is ``apogee.fraction``."""
    ap = config.apogee
    weights = np.array([ap.weight(p) for p in POPULATIONS])
    mean_w = float(np.dot(weights, config.populations.fractions()))
    per_pop = np.minimum(ap.fraction * weights / mean_w, 1.0)
    idx = np.searchsorted(np.array(POPULATIONS), population, sorter=np.argsort(POPULATIONS))
    return per_pop[np.argsort(POPULATIONS)[idx]]


def _field_names(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    # APOGEE disc fields are named after (l, b), e.g. '060+04'
    if np.size(lon) == 0:
        return np.array([], dtype="<U6")
    ll = (np.floor(lon / 3.0) * 3).astype(int) % 360
    bb = (np.round(lat / 4.0) * 4).astype(int)
    sign = np.where(bb < 0, "-", "+")
    return np.char.add(
        np.char.add(np.char.zfill(ll.astype(str), 3), sign),
        np.char.zfill(np.abs(bb).astype(str), 2),
    )


def _telescope(rng: np.random.Generator, dec: np.ndarray) -> np.ndarray:
    u = rng.random(len(dec))
    south = (dec < -20.0) & (u < 0.85)
    return np.where(south, "lco25m", np.where(u < 0.03, "apo1m", "apo25m"))


def _rows(
    rng: np.random.Generator,
    truth: dict[str, np.ndarray],
    idx: np.ndarray,
    source_id: np.ndarray,
    config: SkyConfig,
) -> dict[str, np.ndarray]:
    """One allStar row per index into ``truth`` (labels measured anew for each row)."""
    ap = config.apogee
    n = len(idx)
    teff, logg = truth["teff"][idx], truth["logg"][idx]
    m_h, fe_h, alpha = truth["m_h"][idx], truth["fe_h"][idx], truth["alpha_m"][idx]
    poor = m_h < -1.0
    g = rng.standard_normal((10, n))
    u = rng.random((12, n))

    def inflate(err, p, factor):
        return np.where(u_bad.pop() < p, err * factor, err)

    u_bad = [u[0], u[1], u[2], u[3]]
    teff_err = 10.0 ** (np.log10(60.0) + 0.1 * g[0]) * np.where(poor, 1.3, 1.0)
    logg_err = 10.0 ** (np.log10(0.045) + 0.1 * g[1]) * np.where(poor, 1.3, 1.0)
    m_h_err = 10.0 ** (np.log10(0.02) + 0.12 * g[2]) * np.where(poor, 2.5, 1.0)
    alpha_err = 10.0 ** (np.log10(0.018) + 0.12 * g[3]) * np.where(poor, 2.0, 1.0)
    alpha_err = inflate(alpha_err, ap.bad_alpha_m_err, 8.0)
    m_h_err = inflate(m_h_err, ap.bad_m_h_err, 12.0)
    logg_err = inflate(logg_err, ap.bad_logg_err, 3.0)
    teff_err = inflate(teff_err, ap.bad_teff_err, 2.5)
    fe_h_err = m_h_err * (1.0 + 0.1 * np.abs(g[4]))

    flag = np.zeros(n, dtype=np.int64)
    flag |= np.where(u[4] < ap.star_warn, 1 << STAR_WARN_BIT, 0)
    flag |= np.where(u[5] < ap.star_bad, 1 << STAR_BAD_BIT, 0)
    for bit in _OTHER_BITS:
        flag |= np.where(rng.random(n) < 0.02, 1 << bit, 0)
    chi2 = 10.0 ** (np.log10(4.0) + 0.2 * g[5])
    chi2 = np.where(u[6] < ap.high_chi2, 25.0 + 40.0 * u[7], np.minimum(chi2, 24.0))
    fe_h_flag = np.where(u[8] < ap.fe_h_flag, 1 << rng.integers(0, 6, n), 0).astype(np.int32)
    snr = 10.0 ** (np.log10(ap.snr_median) + ap.snr_sigma_dex * g[6])

    alpha_meas = alpha + alpha_err * g[9]
    # STAR_BAD rows often lack some labels in DR17
    alpha_meas = np.where((flag & (1 << STAR_BAD_BIT)) != 0, np.nan, alpha_meas)
    return {
        "GAIAEDR3_SOURCE_ID": source_id.astype(np.int64),
        "TEFF": (teff + teff_err * g[7]).astype(np.float32),
        "TEFF_ERR": teff_err.astype(np.float32),
        "LOGG": (logg + logg_err * g[8]).astype(np.float32),
        "LOGG_ERR": logg_err.astype(np.float32),
        "M_H": (m_h + m_h_err * rng.standard_normal(n)).astype(np.float32),
        "M_H_ERR": m_h_err.astype(np.float32),
        "FE_H": (fe_h + fe_h_err * rng.standard_normal(n)).astype(np.float32),
        "FE_H_ERR": fe_h_err.astype(np.float32),
        "ALPHA_M": alpha_meas.astype(np.float32),
        "ALPHA_M_ERR": alpha_err.astype(np.float32),
        "ASPCAPFLAG": flag,
        "ASPCAP_CHI2": chi2.astype(np.float32),
        "FE_H_FLAG": fe_h_flag,
        "SNR": snr.astype(np.float32),
    }


def _concat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def apogee_subset(
    rng: np.random.Generator,
    truth: dict[str, np.ndarray],
    first_index: int,
    config: SkyConfig,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """allStar columns for the APOGEE-observed stars of a chunk, and the per-star in_apogee mask.

    Extra rows: duplicates of some observed stars, rows with GAIAEDR3_SOURCE_ID = 0 and rows
    whose Gaia id is not in the RVS sample (their running numbers start at 2^34, far above any
    synthetic star's).
    """
    ap = config.apogee
    n = len(truth["teff"])
    in_apogee = rng.random(n) < selection_probability(truth["population"], config)
    sel = np.flatnonzero(in_apogee)
    u_dup = rng.random(sel.size)
    dup = sel[u_dup < ap.duplicate_share]
    n_missing = rng.binomial(sel.size, ap.no_gaia_id_share) if sel.size else 0
    n_unmatched = rng.binomial(sel.size, ap.unmatched_share) if sel.size else 0
    n_extra = n_missing + n_unmatched
    # extra rows are stars like the observed ones, only not (matchable) in the RVS sample
    extra_src = sel[rng.integers(0, max(sel.size, 1), n_extra)] if sel.size else sel[:0]

    ra, dec = truth["ra"], truth["dec"]
    main = _rows(rng, truth, sel, truth["source_id"][sel], config)
    main["APOGEE_ID"] = apogee_ids(ra[sel], dec[sel])
    main["TELESCOPE"] = _telescope(rng, dec[sel])
    main["FIELD"] = _field_names(truth["l"][sel], truth["b"][sel])

    dupl = _rows(rng, truth, dup, truth["source_id"][dup], config)
    dupl["APOGEE_ID"] = apogee_ids(ra[dup], dec[dup])
    first_tel = main["TELESCOPE"][np.searchsorted(sel, dup)]
    dupl["TELESCOPE"] = np.where(first_tel == "apo25m", "apo1m", "apo25m")
    dupl["FIELD"] = np.char.add(_field_names(truth["l"][dup], truth["b"][dup]), "_btx")

    lon = 360.0 * rng.random(n_extra)
    lat = np.degrees(np.arcsin(2.0 * rng.random(n_extra) - 1.0))
    ra_x, dec_x = galactic_to_icrs(lon, lat)
    running = (np.int64(2**34) + first_index + np.arange(n_extra)).astype(np.int64)

    ids = make_source_ids(ra_x, dec_x, running)
    ids[:n_missing] = 0
    extra = _rows(rng, truth, extra_src, ids, config)
    extra["APOGEE_ID"] = apogee_ids(ra_x, dec_x)
    extra["TELESCOPE"] = _telescope(rng, dec_x)
    extra["FIELD"] = _field_names(lon, lat)

    table = _concat([main, dupl, extra])
    return {k: table[k] for k in _COLUMNS}, in_apogee
