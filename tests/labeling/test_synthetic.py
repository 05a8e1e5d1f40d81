"""The synthetic sky: deterministic, well-formed, a world where the paper's method makes sense."""

from __future__ import annotations

import gzip
from dataclasses import replace

import numpy as np
import pytest

from labeling.augment import RVS_NATIVE_PIXEL_PX, rvs_noise
from labeling.synthetic import (
    OUTSIDE_TRAINING,
    POPULATIONS,
    ChemistryModel,
    SkyConfig,
    SpectrumModel,
    block_rng,
    generate_chunk,
)
from labeling.synthetic.apogee import STAR_BAD_BIT, STAR_WARN_BIT
from labeling.synthetic.astrometry import healpix_nested
from labeling.synthetic.photometry import bolometric_correction_g
from labeling.synthetic.populations import OFFSET_ELEMENTS
from labeling.synthetic.spectra import N_PIX, WAVELENGTH_NM, model_spectrum

wl_a = WAVELENGTH_NM * 10.0  # Å


@pytest.fixture(scope="module")
def chunk():
    return generate_chunk(block_rng(2024, 0), 4000, 0, SkyConfig())


def _window(lo: float, hi: float) -> np.ndarray:
    return (wl_a >= lo) & (wl_a <= hi)


def _equivalent_width(flux: np.ndarray, centre: float, half: float = 12.0) -> np.ndarray:
    return np.sum(1.0 - flux[..., _window(centre - half, centre + half)], axis=-1) * 0.1


# ------------------------------------------------------------------ determinism and layout


def test_deterministic_for_a_seed():
    a = generate_chunk(block_rng(5, 3), 200, 3000, SkyConfig())
    b = generate_chunk(block_rng(5, 3), 200, 3000, SkyConfig())
    c = generate_chunk(block_rng(6, 3), 200, 3000, SkyConfig())
    for product in ("truth", "gaia_source", "rvs", "xp", "apogee"):
        for key, value in getattr(a, product).items():
            np.testing.assert_array_equal(value, getattr(b, product)[key], err_msg=key)
    assert not np.array_equal(a.truth["teff"], c.truth["teff"])


def test_write_sky_does_not_depend_on_chunk_size(tmp_path):
    from labeling.synthetic import write_sky

    small = SkyConfig(block_size=150, chunk_size=150)
    big = replace(small, chunk_size=450)
    fa = write_sky(tmp_path / "a", 400, seed=9, config=small)
    fb = write_sky(tmp_path / "b", 400, seed=9, config=big)
    for name in ("gaia_source", "rvs_mean_spectrum", "xp_continuous", "allstar"):
        a, b = getattr(fa, name), getattr(fb, name)
        opener = gzip.open if a.suffix == ".gz" else open
        with opener(a, "rb") as fh_a, opener(b, "rb") as fh_b:
            assert fh_a.read() == fh_b.read(), name


def test_shapes_and_dtypes(chunk):
    n = len(chunk)
    assert chunk.rvs["flux"].shape == (n, N_PIX) and chunk.rvs["flux"].dtype == np.float32
    assert chunk.rvs["flux_error"].dtype == np.float32
    assert WAVELENGTH_NM[0] == 846.0 and WAVELENGTH_NM[-1] == 870.0 and N_PIX == 2401
    for band in ("bp", "rp"):
        assert chunk.xp[f"{band}_coefficients"].shape[1] == 55
        assert chunk.xp[f"{band}_coefficient_errors"].shape[1] == 55
    assert chunk.gaia_source["source_id"].dtype == np.int64
    assert len(np.unique(chunk.truth["source_id"])) == n
    has_xp = chunk.gaia_source["has_xp_continuous"]
    assert 0.95 < has_xp.mean() < 1.0
    np.testing.assert_array_equal(chunk.xp["source_id"], chunk.truth["source_id"][has_xp])
    assert chunk.apogee["ASPCAPFLAG"].dtype == np.int64
    assert set(POPULATIONS) == set(np.unique(chunk.truth["population"]))
    espels = chunk.astrophysical_parameters["classlabel_espels"]
    assert ((espels != "") == (chunk.truth["anomaly"] == "emission")).all()


def test_source_ids_encode_healpix_level_12(chunk):
    sid, ra, dec = chunk.truth["source_id"], chunk.truth["ra"], chunk.truth["dec"]
    np.testing.assert_array_equal(sid // 2**35, healpix_nested(ra, dec))
    # nested faces: 0-3 north cap, 4-7 equator, 8-11 south cap (Górski et al. 2005)
    ra0 = np.array([45.0, 135.0, 0.0, 45.0])
    dec0 = np.array([89.0, 89.0, 0.0, -89.0])
    np.testing.assert_array_equal(healpix_nested(ra0, dec0, level=0), [0, 1, 4, 8])
    # equal-area pixels: a uniform sky fills the 48 level-1 pixels evenly
    rng = np.random.default_rng(0)
    ra_u, dec_u = 360 * rng.random(96_000), np.degrees(np.arcsin(2 * rng.random(96_000) - 1))
    counts = np.bincount(healpix_nested(ra_u, dec_u, level=1), minlength=48)
    assert counts.min() > 1800 and counts.max() < 2200


# ------------------------------------------------------------------ spectra


def test_cat_equivalent_width_rises_with_metallicity():
    m_h = np.array([-2.0, -1.0, -0.5, 0.0, 0.4])
    flux = model_spectrum(np.full(5, 4700.0), 2.45, m_h, 0.0)
    ew = _equivalent_width(flux, 8544.44)
    assert np.all(np.diff(ew) > 0)
    # the Sun-like 8542 line has an EW of ~3.3 Å as in real RVS spectra
    sun = _equivalent_width(model_spectrum(5772.0, 4.44, 0.0, 0.0)[0], 8544.44)
    assert 2.8 < sun < 3.8


def test_alpha_lines_respond_to_alpha_m_but_fe_lines_do_not():
    flux = model_spectrum(np.full(2, 5000.0), 3.0, -0.5, np.array([0.0, 0.3]))
    si = _window(8558.8, 8559.4)  # Si I 8556.78 air
    fe = _window(8613.9, 8614.5)  # Fe I 8611.80 air
    assert flux[1, si].min() < flux[0, si].min() - 0.03
    assert abs(flux[1, fe].min() - flux[0, fe].min()) < 0.01


def test_each_element_follows_its_own_offset():
    """[Si/α] moves the Si I lines only, [Ca/α] the Ca II triplet; the labels stay as they are."""
    args = (5000.0, 3.0, -0.5, 0.1)
    base = model_spectrum(*args)[0]
    si = model_spectrum(*args, offsets={"si": 0.1})[0]
    ca = model_spectrum(*args, offsets={"ca": 0.1})[0]
    si_w = _window(8558.8, 8559.4)  # Si I 8556.78 air
    fe_w = _window(8613.9, 8614.5)  # Fe I 8611.80 air
    assert si[si_w].min() < base[si_w].min() - 0.005
    assert abs(si[fe_w].min() - base[fe_w].min()) < 1e-4
    assert _equivalent_width(ca, 8544.44) > _equivalent_width(base, 8544.44) + 0.05
    assert abs(ca[si_w].min() - base[si_w].min()) < 0.002


def test_abundance_offsets_scatter_as_configured(chunk):
    model = ChemistryModel()
    for name in OFFSET_ELEMENTS:
        scale = model.cn_scatter_dex if name == "n" else model.element_scatter_dex
        d = chunk.truth[f"d_{name}"]
        assert abs(d.mean()) < 0.1 * scale and 0.9 < d.std() / scale < 1.1, name


def test_abundance_offsets_leave_every_other_draw_as_it_was():
    """The offsets draw from a side stream: same stars, noise and APOGEE subset without them."""
    without = replace(SkyConfig(), chemistry=ChemistryModel(0.0, 0.0))
    a = generate_chunk(block_rng(7, 2), 300, 2000, without)
    b = generate_chunk(block_rng(7, 2), 300, 2000, SkyConfig())
    assert not a.truth["d_ca"].any() and b.truth["d_ca"].std() > 0.02
    for key in ("teff", "snr", "in_apogee", "a_v"):
        np.testing.assert_array_equal(a.truth[key], b.truth[key])
    np.testing.assert_array_equal(a.xp["bp_coefficients"], b.xp["bp_coefficients"])
    diff = np.nanmax(np.abs(a.rvs["flux"] - b.rvs["flux"]), axis=1)
    assert np.median(diff) < 0.05  # the lines move, the noise is the same


def test_paschen_lines_only_in_hot_stars(chunk):
    teff = chunk.truth["teff"]
    flux = np.nan_to_num(chunk.rvs["flux"], nan=1.0)
    # Pa 14 (8598.39 air) trough over ±4 Å, against the continuum window next to it
    index = flux[:, _window(8627.0, 8648.0)].mean(1) - flux[:, _window(8596.8, 8604.8)].mean(1)
    hot = index[teff > 8000.0]
    cool = index[(teff < 6500.0) & (teff > 4000.0)]
    assert np.median(hot) > 0.15 and np.percentile(cool, 95) < 0.08


def test_tio_depresses_m_giants(chunk):
    pop = chunk.truth["population"]
    flux = np.nan_to_num(chunk.rvs["flux"], nan=1.0)
    blue = np.median(flux[:, _window(8475.0, 8495.0)], axis=1)
    k_giants = (pop == "thin_disc_giant") & (chunk.truth["teff"] > 4200)
    assert np.median(blue[pop == "m_giant"]) < 0.85
    assert np.median(blue[k_giants]) > 0.97


def _difference_ratios(flux: np.ndarray, err: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Variance of first and second pixel differences over what white noise of σ = err gives.

    Differences cancel the smooth (LSF-wide) line structure and keep the noise: 1 and 1 for
    white noise, less for noise correlated between neighbouring pixels.
    """
    e2 = np.nanmean(err**2, axis=-1)
    d1, d2 = np.diff(flux, axis=-1), np.diff(flux, 2, axis=-1)
    return np.nanvar(d1, axis=-1) / (2 * e2), np.nanvar(d2, axis=-1) / (6 * e2)


#: correlated noise (labeling.augment.rvs_noise) as in real mean spectra; white noise: 1 and 1
FIRST_DIFFERENCE, SECOND_DIFFERENCE = (0.15, 0.35), (0.05, 0.12)


def test_noise_matches_snr(chunk):
    snr = chunk.gaia_source["rvs_spec_sig_to_noise"]
    err = np.nanmedian(chunk.rvs["flux_error"], axis=1) * snr
    assert 0.85 < np.median(err) < 1.2
    low = (snr < 40) & (chunk.truth["teff"] > 4000) & (chunk.truth["teff"] < 7000)
    window = _window(8561.0, 8582.0)
    r1, r2 = _difference_ratios(chunk.rvs["flux"][low][:, window], 1.0 / snr[low, None])
    assert FIRST_DIFFERENCE[0] < np.median(r1) < FIRST_DIFFERENCE[1]
    assert SECOND_DIFFERENCE[0] < np.median(r2) < SECOND_DIFFERENCE[1]
    nan_rows = np.isnan(chunk.rvs["flux"]).any(axis=1)
    assert 0.01 < nan_rows.mean() < 0.06


def test_real_mean_spectra_have_the_correlated_noise_the_sky_has(data_dir):
    from astropy.table import Table

    # HD 176650 (S/N 460) is left out: at that S/N its weak lines outweigh the noise
    names = ("Kepler-93", "Kepler-409", "GaiaDR3-3174658066485297152")
    for name in names:
        t = Table.read(data_dir / "rvs_mean_spectrum" / f"gaiaspec_{name}.csv", format="csv")
        wl = np.asarray(t["wavelength"]) * 10.0  # nm -> Å
        flux, err = np.asarray(t["flux"], float), np.asarray(t["flux_error"], float)
        for lo, hi in ((8475.0, 8495.0), (8561.0, 8582.0), (8627.0, 8648.0)):
            m = (wl >= lo) & (wl <= hi)
            r1, r2 = _difference_ratios(flux[m], err[m])
            assert FIRST_DIFFERENCE[0] < r1 < FIRST_DIFFERENCE[1], (name, lo, r1)
            assert SECOND_DIFFERENCE[0] < r2 < SECOND_DIFFERENCE[1], (name, lo, r2)


def test_white_noise_is_one_setting_away():
    rng = np.random.default_rng(0)
    white = rvs_noise(rng, (200, 2401), None)
    r1, r2 = _difference_ratios(white, np.ones((200, 1)))
    assert 0.9 < np.median(r1) < 1.1 and 0.9 < np.median(r2) < 1.1
    assert SpectrumModel().noise_native_pixel_px == RVS_NATIVE_PIXEL_PX


def test_snr_distribution_like_fig1(chunk):
    snr = chunk.gaia_source["rvs_spec_sig_to_noise"]
    assert snr.min() >= 15.0
    share = np.mean((snr >= 15) & (snr < 25))
    assert 0.28 < share < 0.40
    assert 200 < np.percentile(snr, 95) < 1000


# ------------------------------------------------------------------ photometry and astrometry


def test_magnitudes_and_parallaxes(chunk):
    gs, pop = chunk.gaia_source, chunk.truth["population"]
    main = ~np.isin(pop, OUTSIDE_TRAINING)
    g = gs["phot_g_mean_mag"][main]
    assert np.percentile(g, 1) > 6.0 and np.percentile(g, 99) < 15.8
    assert np.median(g) > 12.0
    near = pop == "nearby_cool_dwarf"
    assert (1000.0 / chunk.truth["distance_pc"][near] > 7.0).all()
    assert np.percentile(gs["parallax"][near], 2) > 6.5
    assert 0.015 < np.median(gs["parallax_error"]) < 0.1
    assert np.mean(gs["ruwe"] < 1.4) > 0.95
    assert np.mean(gs["phot_g_mean_flux_over_error"] > 500) > 0.95
    color = gs["phot_bp_mean_mag"] - gs["phot_rp_mean_mag"]
    np.testing.assert_allclose(color, gs["bp_rp"], atol=1e-4)


def test_training_snr_cut_still_reaches_the_faint_end(chunk):
    # Sect. 2.5 / Fig. 3: the S/N >= 30 training stars span G up to 14.2 and 98 % of the
    # observed sample lies inside that range, because S/N scatters at a given magnitude
    gs, pop = chunk.gaia_source, chunk.truth["population"]
    main = ~np.isin(pop, OUTSIDE_TRAINING)
    g, snr = gs["phot_g_mean_mag"][main], gs["rvs_spec_sig_to_noise"][main]
    faint_end = np.percentile(g[snr >= 30], 99.9)
    assert 13.8 < faint_end < 14.8
    assert np.mean(g > faint_end) < 0.06  # 0.25 mag of scatter gave 9.6 %


def test_anomalies_trip_the_gaia_cuts(chunk):
    gs, anomaly = chunk.gaia_source, chunk.truth["anomaly"]
    assert (gs["ruwe"][anomaly == "bad_astrometry"] > 1.4).all()
    assert (gs["phot_variable_flag"][anomaly == "variable"] == "VARIABLE").all()
    assert (gs["non_single_star"][anomaly == "binary"] > 0).all()
    assert gs["in_qso_candidates"].sum() == (anomaly == "qso_candidate").sum()
    assert gs["in_galaxy_candidates"].sum() == (anomaly == "galaxy_candidate").sum()
    clean = anomaly == ""
    assert (gs["phot_variable_flag"][clean] == "NOT_AVAILABLE").all()
    assert (gs["non_single_star"][clean] == 0).all()


def test_logg_is_fixed_better_by_parallax_than_by_the_spectrum(chunk):
    """Appendix B: for cool stars, a luminosity proxy from G, parallax (and A_G) pins log g,
    while the spectrum alone (its first 15 principal components) leaves large scatter."""
    t, gs = chunk.truth, chunk.gaia_source
    sel = (
        (t["teff"] > 4000)
        & (t["teff"] < 5300)
        & (gs["parallax_over_error"] > 5)
        & (t["anomaly"] == "")
    )
    logg, teff = t["logg"][sel], t["teff"][sel]
    assert (logg > 4.0).sum() > 100 and (logg < 3.5).sum() > 500
    abs_g = gs["phot_g_mean_mag"][sel] + 5 * np.log10(gs["parallax"][sel] / 100) - t["a_g"][sel]
    # physical proxy, mass = 1 Msun: log g = 4.438 + 4 log(Teff/5772) + 0.4 (M_G + BC_G − 4.74)
    proxy = 4.438 + 4 * np.log10(teff / 5772) + 0.4 * (abs_g + bolometric_correction_g(teff) - 4.74)
    phot_scatter = np.std(logg - proxy)

    flux = np.nan_to_num(chunk.rvs["flux"][sel], nan=1.0).astype(float)
    centred = flux - flux.mean(0)
    half = len(logg) // 2
    _, _, vt = np.linalg.svd(centred[:half], full_matrices=False)
    design = np.c_[np.ones(len(logg)), centred @ vt[:15].T, np.log10(teff)]
    beta = np.linalg.lstsq(design[:half], logg[:half], rcond=None)[0]
    spec_scatter = np.std(logg[half:] - design[half:] @ beta)
    assert phot_scatter < 0.2
    assert spec_scatter > 2.0 * phot_scatter


def test_xp_first_coefficient_scales_with_flux(chunk):
    keep = chunk.gaia_source["has_xp_continuous"]
    g = chunk.gaia_source["phot_g_mean_mag"][keep]
    for band in ("bp", "rp"):
        c0 = chunk.xp[f"{band}_coefficients"][:, 0]
        assert (c0 > 0).all()
        mag = chunk.gaia_source[f"phot_{band}_mean_mag"][keep]
        # coefficient 0 is the band flux in e-/s (up to photon noise, large only when faint)
        offset = np.log10(c0) + 0.4 * mag
        bright = mag < 15.0
        assert np.std(offset[bright]) < 0.01 and np.std(offset) < 0.05
        assert np.corrcoef(np.log10(c0), -0.4 * g)[0, 1] > 0.97
        ratio = chunk.xp[f"{band}_coefficients"][:, 1:] / c0[:, None]
        assert np.percentile(np.abs(ratio), 99) < 1.5


def test_xp_hydrogen_lines_measure_teff_through_dust():
    from labeling.synthetic.xp import _BP, _sed

    def h_beta_depth(teff: float, a_v: float) -> float:
        sed = _sed(_BP, np.array([teff]), np.zeros(1), np.zeros(1), np.array([a_v]))[0]
        at = lambda lam: np.interp(lam, _BP.wl, sed)  # noqa: E731
        return 1.0 - at(486.13) / (0.5 * (at(476.0) + at(496.0)))

    for teff in (5000.0, 6500.0):
        # the line depth, unlike the continuum slope, does not change with reddening
        assert abs(h_beta_depth(teff, 0.0) - h_beta_depth(teff, 2.0)) < 3e-3
    assert h_beta_depth(6500.0, 1.0) > 1.5 * h_beta_depth(5000.0, 1.0) > 0.01


def test_xp_metal_blanketing_reaches_f_stars():
    from labeling.synthetic.xp import _BP, _sed

    def blue_over_red(teff: float, m_h: float) -> float:
        sed = _sed(_BP, np.array([teff]), np.array([m_h]), np.zeros(1), np.zeros(1))[0]
        return float(sed[_BP.wl < 420.0].sum() / sed[_BP.wl > 550.0].sum())

    def dimming(teff: float) -> float:  # blue flux lost from [M/H] = −1 to 0
        return 1.0 - blue_over_red(teff, 0.0) / blue_over_red(teff, -1.0)

    # F dwarfs keep a metallicity signal in the blue (Strömgren m1), weaker than K giants',
    # and A stars almost none
    assert dimming(4800.0) > dimming(6300.0) > 0.04
    assert dimming(6300.0) > 3.0 * dimming(8400.0)


# ------------------------------------------------------------------ APOGEE subset


def test_apogee_subset_is_giant_dominated_and_outside_populations_absent(chunk):
    ap, t = chunk.apogee, chunk.truth
    pop_of = dict(zip(t["source_id"].tolist(), t["population"].tolist(), strict=True))
    matched = [pop_of[s] for s in ap["GAIAEDR3_SOURCE_ID"].tolist() if s in pop_of]
    assert len(matched) > 500
    assert not set(matched) & set(OUTSIDE_TRAINING)
    in_ap = t["in_apogee"]
    assert 0.15 < in_ap.mean() < 0.3
    assert np.mean(t["logg"][in_ap] < 3.5) > 0.65
    assert np.mean(t["m_h"][in_ap] < -1.0) < 0.06
    # labels are truth + errors of the quoted size
    idx = {s: i for i, s in enumerate(t["source_id"].tolist())}
    rows = [i for i, s in enumerate(ap["GAIAEDR3_SOURCE_ID"].tolist()) if s in idx]
    truth_teff = t["teff"][[idx[s] for s in ap["GAIAEDR3_SOURCE_ID"][rows].tolist()]]
    pull = (ap["TEFF"][rows] - truth_teff) / ap["TEFF_ERR"][rows]
    assert 0.8 < np.std(pull) < 1.2


def test_apogee_rows_fail_each_of_the_paper_cuts(chunk):
    ap = chunk.apogee
    m_h = ap["M_H"]
    m_h_limit = np.where(m_h < -0.5, 0.2, 0.1)
    failures = {
        "STAR_WARN": (ap["ASPCAPFLAG"] & (1 << STAR_WARN_BIT)) != 0,
        "STAR_BAD": (ap["ASPCAPFLAG"] & (1 << STAR_BAD_BIT)) != 0,
        "ASPCAP_CHI2": ap["ASPCAP_CHI2"] >= 25,
        "FE_H_FLAG": ap["FE_H_FLAG"] != 0,
        "TEFF_ERR": ap["TEFF_ERR"] >= 100,
        "LOGG_ERR": ap["LOGG_ERR"] >= 0.1,
        "M_H_ERR": ap["M_H_ERR"] >= m_h_limit,
        "ALPHA_M_ERR": ap["ALPHA_M_ERR"] >= 0.1,
        "SNR": ap["SNR"] <= 70,
    }
    n = len(m_h)
    for name, fails in failures.items():
        assert 0 < fails.sum() < 0.2 * n, name
    passing = ~np.logical_or.reduce(list(failures.values()))
    assert passing.mean() > 0.6
    ids = ap["GAIAEDR3_SOURCE_ID"]
    assert (ids == 0).sum() > 0
    nonzero = ids[ids != 0]
    uniq, counts = np.unique(nonzero, return_counts=True)
    dup = np.isin(ids, uniq[counts > 1])
    assert dup.sum() > 0
    for sid in uniq[counts > 1][:5]:
        rows = ids == sid
        assert len(set(ap["TELESCOPE"][rows])) > 1 and len(set(ap["FIELD"][rows])) > 1
    assert all(s.startswith("2M") and len(s) == 18 for s in ap["APOGEE_ID"][:50])
