"""Sample selection (Sect. 2.1-2.5): every cut removes exactly the stars it should."""

from __future__ import annotations

import io

import numpy as np
import pytest

from labeling.labels import LABELS
from labeling.selection import (
    APOGEE_CUTS,
    GAIA_CUTS,
    TRAINING_CUTS,
    Cut,
    match_apogee,
    select,
)
from labeling.synthetic import OUTSIDE_TRAINING, SkyConfig, block_rng, generate_chunk

# ----------------------------------------------------------------------------- table builders


def good_gaia(n: int) -> dict[str, np.ndarray]:
    """n stars that pass every Gaia and training cut; source_id = 1000 + i."""
    return {
        "source_id": np.arange(1000, 1000 + n, dtype=np.int64),
        "has_rvs": np.ones(n, bool),
        "in_galaxy_candidates": np.zeros(n, bool),
        "in_qso_candidates": np.zeros(n, bool),
        "phot_variable_flag": np.full(n, "NOT_AVAILABLE"),
        "non_single_star": np.zeros(n, np.int16),
        "has_xp_continuous": np.ones(n, bool),
        "classlabel_espels": np.full(n, ""),
        "phot_g_mean_flux_over_error": np.full(n, 2000.0, np.float32),
        "phot_bp_mean_flux_over_error": np.full(n, 1500.0, np.float32),
        "phot_rp_mean_flux_over_error": np.full(n, 1800.0, np.float32),
        "phot_g_mean_mag": np.full(n, 11.0, np.float32),
        "phot_bp_mean_mag": np.full(n, 11.5, np.float32),
        "phot_rp_mean_mag": np.full(n, 10.4, np.float32),
        "parallax": np.full(n, 1.0),
        "parallax_error": np.full(n, 0.02, np.float32),
        "rvs_spec_sig_to_noise": np.full(n, 60.0, np.float32),
        "ruwe": np.full(n, 1.0, np.float32),
    }


def good_apogee(ids: np.ndarray) -> dict[str, np.ndarray]:
    """One allStar row per id passing every APOGEE cut; TEFF = 4000 + row number."""
    n = len(ids)
    return {
        "GAIAEDR3_SOURCE_ID": np.asarray(ids, np.int64),
        "TEFF": 4000.0 + np.arange(n, dtype=np.float32),
        "TEFF_ERR": np.full(n, 50.0, np.float32),
        "LOGG": np.full(n, 2.5, np.float32),
        "LOGG_ERR": np.full(n, 0.05, np.float32),
        "M_H": np.full(n, -0.1, np.float32),
        "M_H_ERR": np.full(n, 0.02, np.float32),
        "FE_H": np.full(n, -0.12, np.float32),
        "FE_H_ERR": np.full(n, 0.03, np.float32),
        "ALPHA_M": np.full(n, 0.05, np.float32),
        "ALPHA_M_ERR": np.full(n, 0.02, np.float32),
        "ASPCAPFLAG": np.zeros(n, np.int64),
        "ASPCAP_CHI2": np.full(n, 5.0, np.float32),
        "FE_H_FLAG": np.zeros(n, np.int32),
        "SNR": np.full(n, 150.0, np.float32),
    }


def row(report, name):
    (r,) = [r for r in report if r.name == name]
    return r


# Per cut: (column, value) that makes exactly one star fail that cut and no other.
GAIA_FAIL = {
    "has_rvs": ("has_rvs", False),
    "not_galaxy": ("in_galaxy_candidates", True),
    "not_qso": ("in_qso_candidates", True),
    "not_variable": ("phot_variable_flag", "VARIABLE"),
    "single_star": ("non_single_star", 2),
    "has_xp": ("has_xp_continuous", False),
    "no_emission": ("classlabel_espels", "Be"),
    "g_flux_over_error": ("phot_g_mean_flux_over_error", 500.0),
    "bp_flux_over_error": ("phot_bp_mean_flux_over_error", 499.0),
    "rp_flux_over_error": ("phot_rp_mean_flux_over_error", 12.0),
    "positive_parallax": ("parallax", -0.3),
    "photometry_present": ("phot_bp_mean_mag", np.nan),
}
APOGEE_FAIL = {
    "star_warn": ("ASPCAPFLAG", 1 << 7),
    "star_bad": ("ASPCAPFLAG", 1 << 23),
    "chi2": ("ASPCAP_CHI2", 25.0),
    "fe_h_flag": ("FE_H_FLAG", 4),
    "teff_err": ("TEFF_ERR", 100.0),
    "logg_err": ("LOGG_ERR", 0.1),
    "m_h_err": ("M_H_ERR", 0.15),
    "fe_h_err": ("FE_H_ERR", 0.15),
    "alpha_m_err": ("ALPHA_M_ERR", 0.1),
    "apogee_snr": ("SNR", 69.9),  # the paper removes S/N < 70: 70 itself stays
    "labels_finite": ("LOGG", np.nan),
}
TRAINING_FAIL = {
    "rvs_snr": ("rvs_spec_sig_to_noise", 29.9),
    "parallax_over_error": ("parallax_error", 0.2),  # parallax 1.0: exactly 5, not > 5
    "ruwe": ("ruwe", 1.4),
}


def test_every_cut_has_a_failing_case_here():
    assert [c.name for c in GAIA_CUTS] == list(GAIA_FAIL)
    assert [c.name for c in APOGEE_CUTS] == list(APOGEE_FAIL)
    assert [c.name for c in TRAINING_CUTS] == list(TRAINING_FAIL)
    for cut in GAIA_CUTS + APOGEE_CUTS + TRAINING_CUTS:
        assert isinstance(cut, Cut)
        assert cut.section in ("2.1", "2.2", "2.3", "2.4", "2.5")
        assert cut.description and cut.columns


def test_all_good_stars_are_training():
    gaia = good_gaia(5)
    sel = select(gaia, good_apogee(gaia["source_id"]))
    np.testing.assert_array_equal(sel.training_ids, gaia["source_id"])
    assert sel.observed_ids.size == 0
    assert all(r.removed == 0 for r in sel.report)
    assert sel.labels.shape == (5, 5) and sel.label_errors.shape == (5, 5)
    np.testing.assert_allclose(sel.labels[:, 0], 4000.0 + np.arange(5))
    np.testing.assert_allclose(sel.labels[0], [4000.0, 2.5, -0.1, 0.05, -0.12], rtol=1e-6)
    np.testing.assert_allclose(sel.label_errors[0], [50.0, 0.05, 0.02, 0.02, 0.03], rtol=1e-6)


@pytest.mark.parametrize("name", list(GAIA_FAIL))
def test_gaia_cut_removes_exactly_its_star(name):
    gaia = good_gaia(4)
    col, value = GAIA_FAIL[name]
    gaia[col] = gaia[col].copy()
    if isinstance(value, str):
        gaia[col] = gaia[col].astype(object)
    gaia[col][2] = value
    sel = select(gaia, good_apogee(gaia["source_id"]))
    bad = gaia["source_id"][2]
    assert bad not in sel.training_ids and bad not in sel.observed_ids
    np.testing.assert_array_equal(sel.training_ids, np.delete(gaia["source_id"], 2))
    assert row(sel.report, name).removed == 1
    assert sum(r.removed for r in sel.report) == 1


@pytest.mark.parametrize("name", list(APOGEE_FAIL))
def test_apogee_cut_sends_its_star_to_observed(name):
    gaia = good_gaia(4)
    apogee = good_apogee(gaia["source_id"])
    col, value = APOGEE_FAIL[name]
    apogee[col] = apogee[col].copy()
    apogee[col][1] = value
    sel = select(gaia, apogee)
    np.testing.assert_array_equal(sel.observed_ids, [gaia["source_id"][1]])
    np.testing.assert_array_equal(sel.training_ids, np.delete(gaia["source_id"], 1))
    np.testing.assert_array_equal(sel.observed_apogee_rows, [-1])  # its labels are not used
    assert row(sel.report, name).removed == 1
    assert sum(r.removed for r in sel.report) == 1


@pytest.mark.parametrize("name", list(TRAINING_FAIL))
def test_training_cut_sends_its_star_to_observed(name):
    gaia = good_gaia(4)
    col, value = TRAINING_FAIL[name]
    gaia[col] = gaia[col].copy()
    gaia[col][3] = value
    sel = select(gaia, good_apogee(gaia["source_id"][::-1]))
    np.testing.assert_array_equal(sel.observed_ids, [gaia["source_id"][3]])
    # good APOGEE labels, star out of training: the observed sample of Fig. 16
    np.testing.assert_array_equal(sel.observed_apogee_rows, [0])
    assert row(sel.report, name).removed == 1
    assert sum(r.removed for r in sel.report) == 1


def test_aspcapflag_only_bits_7_and_23():
    gaia = good_gaia(6)
    apogee = good_apogee(gaia["source_id"])
    apogee["ASPCAPFLAG"] = np.array(
        [1 << 7, 1 << 23, (1 << 4) | (1 << 9), 1 << 6, 1 << 24, (1 << 8) | (1 << 22)], np.int64
    )
    sel = select(gaia, apogee)
    np.testing.assert_array_equal(sel.observed_ids, gaia["source_id"][:2])
    np.testing.assert_array_equal(sel.training_ids, gaia["source_id"][2:])
    assert row(sel.report, "star_warn").removed == 1
    assert row(sel.report, "star_bad").removed == 1


def test_aspcapflag_unsigned_and_both_bits():
    gaia = good_gaia(3)
    apogee = good_apogee(gaia["source_id"])
    apogee["ASPCAPFLAG"] = np.array([(1 << 7) | (1 << 23), 1 << 63, 1 << 23], np.uint64)
    sel = select(gaia, apogee)
    np.testing.assert_array_equal(sel.training_ids, [gaia["source_id"][1]])
    assert row(sel.report, "star_warn").removed == 1  # the first cut that fails takes it
    assert row(sel.report, "star_bad").removed == 1


@pytest.mark.parametrize("label", ["M_H", "FE_H"])
def test_metallicity_error_threshold_depends_on_metallicity(label):
    cases = [  # (value, error, kept)
        (-0.8, 0.15, True),
        (-0.8, 0.19, True),
        (-0.8, 0.2, False),
        (-0.3, 0.15, False),
        (-0.3, 0.09, True),
        (-0.5, 0.15, False),  # -0.5 belongs to the ≥ −0.5 side
        (-0.51, 0.15, True),
        (np.nan, 0.01, False),
    ]
    gaia = good_gaia(len(cases))
    apogee = good_apogee(gaia["source_id"])
    apogee[label] = np.array([c[0] for c in cases], np.float32)
    apogee[f"{label}_ERR"] = np.array([c[1] for c in cases], np.float32)
    sel = select(gaia, apogee)
    kept = np.isin(gaia["source_id"], sel.training_ids)
    np.testing.assert_array_equal(kept, [c[2] for c in cases])
    assert row(sel.report, f"{label.lower()}_err").removed == sum(not c[2] for c in cases)


def test_duplicates_keep_highest_snr():
    gaia = good_gaia(3)
    ids = gaia["source_id"]
    # star 0: rows SNR 100 then 300; star 1: 250 then NaN then 90; star 2: one row
    apogee = good_apogee(np.array([ids[0], ids[1], ids[0], ids[1], ids[2], ids[1]]))
    apogee["SNR"] = np.array([100.0, 250.0, 300.0, np.nan, 120.0, 90.0], np.float32)
    sel = select(gaia, apogee)
    np.testing.assert_array_equal(sel.training_ids, ids)
    np.testing.assert_array_equal(sel.training_apogee_rows, [2, 1, 4])
    np.testing.assert_allclose(sel.labels[:, 0], [4002.0, 4001.0, 4004.0])
    assert sel.apogee_rows["duplicates_dropped"] == 3
    assert sel.apogee_rows["matched_stars"] == 3


def test_duplicate_whose_best_row_fails_is_not_rescued():
    gaia = good_gaia(1)
    apogee = good_apogee(np.repeat(gaia["source_id"], 2))
    apogee["SNR"] = np.array([100.0, 200.0], np.float32)
    apogee["ASPCAP_CHI2"] = np.array([5.0, 30.0], np.float32)  # the best row fails chi2
    sel = select(gaia, apogee)
    assert sel.training_ids.size == 0
    np.testing.assert_array_equal(sel.observed_ids, gaia["source_id"])
    assert row(sel.report, "chi2").removed == 1


def test_match_ignores_rows_without_or_with_foreign_ids():
    gaia = good_gaia(4)
    ids = gaia["source_id"]
    apogee = good_apogee(np.array([0, ids[1], 999_999, -1, ids[3]]))
    sel = select(gaia, apogee)
    np.testing.assert_array_equal(sel.training_ids, [ids[1], ids[3]])
    np.testing.assert_array_equal(sel.observed_ids, [ids[0], ids[2]])
    assert row(sel.report, "apogee_match").removed == 2
    assert sel.apogee_rows == {
        "total": 5,
        "no_gaia_id": 2,
        "id_not_in_gaia": 1,
        "duplicates_dropped": 0,
        "matched_stars": 2,
    }


def test_match_apogee_unsorted_ids():
    rows, counts = match_apogee(
        np.array([50, 10, 30]), np.array([30, 50, 30, 7]), np.array([1.0, 2.0, 3.0, 4.0])
    )
    np.testing.assert_array_equal(rows, [1, -1, 2])
    assert counts["duplicates_dropped"] == 1 and counts["id_not_in_gaia"] == 1


def test_empty_apogee_table():
    gaia = good_gaia(3)
    sel = select(gaia, {k: v[:0] for k, v in good_apogee(gaia["source_id"]).items()})
    assert sel.training_ids.size == 0 and sel.labels.shape == (0, 5)
    np.testing.assert_array_equal(sel.observed_ids, gaia["source_id"])


def test_missing_values():
    gaia = good_gaia(7)
    ids = gaia["source_id"]
    gaia["classlabel_espels"] = np.array(["", None, "null", "  ", "", "", ""], dtype=object)
    gaia["phot_variable_flag"] = np.ma.MaskedArray(
        np.full(7, "NOT_AVAILABLE"), mask=[0, 0, 0, 0, 1, 0, 0]
    )  # a null variability flag is not 'VARIABLE': kept
    gaia["parallax"] = np.array([1, 1, 1, 1, 1, np.nan, 1.0])  # NaN parallax: removed
    gaia["in_qso_candidates"] = np.array([False] * 6 + [None], dtype=object)  # unknown: removed
    sel = select(gaia, good_apogee(ids))
    np.testing.assert_array_equal(sel.training_ids, ids[:5])
    assert row(sel.report, "positive_parallax").removed == 1
    assert row(sel.report, "not_qso").removed == 1
    assert row(sel.report, "no_emission").removed == 0


def test_missing_column_and_duplicate_ids_raise():
    gaia = good_gaia(2)
    apogee = good_apogee(gaia["source_id"])
    with pytest.raises(KeyError, match="ruwe"):
        select({k: v for k, v in gaia.items() if k != "ruwe"}, apogee)
    with pytest.raises(KeyError, match="ASPCAPFLAG"):
        select(gaia, {k: v for k, v in apogee.items() if k != "ASPCAPFLAG"})
    gaia["source_id"] = np.array([5, 5])
    with pytest.raises(ValueError, match="unique"):
        select(gaia, apogee)


def test_apogee_snr_of_exactly_70_stays_and_object_nan_is_missing():
    gaia = good_gaia(3)
    apogee = good_apogee(gaia["source_id"])
    apogee["SNR"] = np.array([70.0, 69.99, 200.0], np.float32)
    ids = gaia["source_id"]
    assert select(gaia, apogee).training_ids.tolist() == [ids[0], ids[2]]
    # gaps in a string column as pandas leaves them: NaN is no emission class, not one named "nan"
    apogee["SNR"] = np.full(3, 200.0, np.float32)
    gaia["classlabel_espels"] = np.array(["", np.nan, "ELS"], dtype=object)
    assert select(gaia, apogee).training_ids.tolist() == [ids[0], ids[1]]


def test_report_counts_are_sequential():
    gaia = good_gaia(10)
    ids = gaia["source_id"]
    gaia["in_galaxy_candidates"] = gaia["in_galaxy_candidates"].copy()
    gaia["in_galaxy_candidates"][[0, 1]] = True
    gaia["parallax"] = gaia["parallax"].copy()
    gaia["parallax"][[1, 2]] = -1.0  # star 1 fails two cuts: counted once, at the first
    gaia["ruwe"] = gaia["ruwe"].copy()
    gaia["ruwe"][[3, 9]] = 2.0
    apogee = good_apogee(ids[3:])  # stars 0-2 have no APOGEE row anyway
    apogee["SNR"] = apogee["SNR"].copy()
    apogee["SNR"][1] = 50.0  # star 4
    sel = select(gaia, apogee)
    removed = {r.name: r.removed for r in sel.report if r.removed}
    assert removed == {"not_galaxy": 2, "positive_parallax": 1, "apogee_snr": 1, "ruwe": 2}
    remaining = [r.remaining for r in sel.report]
    assert remaining == sorted(remaining, reverse=True)
    assert sel.report[-1].remaining == len(sel.training_ids) == 4
    gaia_left = row(sel.report, GAIA_CUTS[-1].name).remaining
    assert gaia_left == 7 == len(sel.training_ids) + len(sel.observed_ids)
    assert [r.name for r in sel.report] == (
        [c.name for c in GAIA_CUTS]
        + ["apogee_match"]
        + [c.name for c in APOGEE_CUTS]
        + [c.name for c in TRAINING_CUTS]
    )
    text = sel.format_report()
    for r in sel.report:
        assert r.name in text and r.description in text
    assert "training sample: 4 stars" in text and "observed sample: 3 stars" in text
    buf = io.StringIO()
    sel.print_report(buf)
    assert buf.getvalue().strip() == text


# ------------------------------------------------------------------------ a synthetic sky chunk


@pytest.fixture(scope="module")
def sky():
    chunk = generate_chunk(block_rng(11, 0), 3000, 0, SkyConfig())
    gaia = chunk.gaia_source | {
        "classlabel_espels": chunk.astrophysical_parameters["classlabel_espels"]
    }
    return chunk, gaia, select(gaia, chunk.apogee)


def test_synthetic_sky_selection(sky):
    chunk, gaia, sel = sky
    truth = chunk.truth
    assert sel.training_ids.size > 100 and sel.observed_ids.size > 1000
    in_train = np.isin(truth["source_id"], sel.training_ids)
    in_obs = np.isin(truth["source_id"], sel.observed_ids)
    assert not (in_train & in_obs).any()
    # populations APOGEE never reaches, and every anomaly, stay out of the training sample
    assert not in_train[np.isin(truth["population"], OUTSIDE_TRAINING)].any()
    assert not in_train[truth["anomaly"] != ""].any()
    # anomalies tripping a Gaia cut are in neither sample; bad astrometry only fails RUWE
    gaia_flagged = np.isin(
        truth["anomaly"], ("variable", "binary", "emission", "galaxy_candidate", "qso_candidate")
    )
    assert gaia_flagged.sum() > 20 and not (in_obs | in_train)[gaia_flagged].any()
    assert in_obs[truth["anomaly"] == "bad_astrometry"].any()
    assert (gaia["rvs_spec_sig_to_noise"][sel.training_index] >= 30).all()
    assert (gaia["ruwe"][sel.training_index] < 1.4).all()
    np.testing.assert_array_equal(gaia["source_id"][sel.training_index], sel.training_ids)
    # the kept APOGEE rows carry no STAR_WARN / STAR_BAD bit and match their star
    flags = chunk.apogee["ASPCAPFLAG"][sel.training_apogee_rows]
    assert not (flags & ((1 << 7) | (1 << 23))).any()
    np.testing.assert_array_equal(
        chunk.apogee["GAIAEDR3_SOURCE_ID"][sel.training_apogee_rows], sel.training_ids
    )
    assert np.isfinite(sel.labels).all() and sel.labels.shape == (sel.training_ids.size, 5)
    # labels agree with the truth within a few APOGEE errors
    idx = np.searchsorted(
        truth["source_id"], sel.training_ids, sorter=np.argsort(truth["source_id"])
    )
    order = np.argsort(truth["source_id"])[idx]
    assert np.median(np.abs(sel.labels[:, 0] - truth["teff"][order])) < 150
    assert len(LABELS) == sel.labels.shape[1]
