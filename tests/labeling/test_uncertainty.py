"""Running dispersion, its polynomial fit and total uncertainties (paper Sect. 3.4, 4.2)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from labeling.labels import LABELS
from labeling.uncertainty import (
    DispersionFit,
    DispersionModel,
    calibration_scale,
    coverage,
    label_bins,
    running_dispersion,
)


def _sigma_of_x(x: np.ndarray) -> np.ndarray:
    return 0.05 + 0.04 * (x - 0.5) ** 2  # a known, smooth dispersion curve


def test_running_dispersion_recovers_known_sigma():
    rng = np.random.default_rng(1)
    x = rng.uniform(-1.5, 2.5, 40_000)
    r = rng.normal(0.0, _sigma_of_x(x))
    r[::200] += 5.0  # 0.5 % gross outliers: the MAD estimate ignores them
    centres, sigma = running_dispersion(x, r, n_bins=20)
    assert 15 <= centres.size <= 45
    assert np.all(np.diff(centres) > 0)
    np.testing.assert_allclose(sigma, _sigma_of_x(centres), rtol=0.1)
    # the plain standard deviation is pulled up by the outliers
    _, sigma_std = running_dispersion(x, r, n_bins=20, robust=False)
    assert np.median(sigma_std / _sigma_of_x(centres)) > 1.5


def test_a_sparse_tail_keeps_its_own_dispersion():
    """3.5 % metal-poor stars at 0.15 dex beside a disc at 0.06 (the paper's Sect. 4.2): the
    tail gets bins of its own. Windows of a tenth of the stars gave 0.075 at every [M/H] < −1."""
    rng = np.random.default_rng(7)
    disc = rng.normal(-0.1, 0.25, 43_200)
    halo = rng.uniform(-2.2, -1.0, 1_580)
    x = np.concatenate([disc, halo])
    r = rng.normal(0.0, np.where(x < -1.0, 0.15, 0.06))
    fit = DispersionFit.fit(x, r, label="m_h", degree=3)
    assert fit.x_min < -1.9
    np.testing.assert_allclose(fit(np.array([-2.0, -1.6])), 0.15, rtol=0.2)
    np.testing.assert_allclose(fit(np.array([-0.3, 0.0, 0.3])), 0.06, rtol=0.2)


def test_label_bins_are_contiguous_full_and_never_below_min_count():
    rng = np.random.default_rng(8)
    x = np.sort(np.concatenate([rng.normal(0, 1, 5000), [-9.0, -8.5, 7.0]]))
    bins = label_bins(x, 20, 40)
    assert bins[0].start == 0 and bins[-1].stop == x.size
    assert all(a.stop == b.start for a, b in zip(bins[:-1], bins[1:], strict=False))
    assert min(b.stop - b.start for b in bins) >= 40
    assert len(bins) >= 8  # the dense middle keeps its resolution
    assert label_bins(np.zeros(50), 20, 30) == [slice(0, 50)]


def test_running_dispersion_ignores_nan_and_needs_min_count():
    x = np.array([1.0, np.nan, 2.0])
    c, s = running_dispersion(x, np.array([0.1, 0.2, np.nan]), min_count=5)
    assert c.size == 0 and s.size == 0
    with pytest.raises(ValueError):
        running_dispersion(np.zeros(3), np.zeros(4))


def test_dispersion_fit_follows_curve_clamps_and_never_negative():
    rng = np.random.default_rng(2)
    x = rng.uniform(0.0, 1.0, 30_000)
    r = rng.normal(0.0, _sigma_of_x(x))
    fit = DispersionFit.fit(x, r, label="m_h", degree=3)
    grid = np.linspace(0.05, 0.95, 7)
    np.testing.assert_allclose(fit(grid), _sigma_of_x(grid), rtol=0.08)
    # outside the fitted range: the value at the edge, no polynomial extrapolation
    assert fit(np.array([-10.0]))[0] == pytest.approx(fit(np.array([fit.x_min]))[0])
    assert fit(np.array([10.0]))[0] == pytest.approx(fit(np.array([fit.x_max]))[0])
    # a polynomial that dips below zero is floored at the smallest measured dispersion
    neg = DispersionFit("teff", 1, [-1.0, 0.0], (0.0, 1.0), 0.0, 1.0, floor=0.01)
    assert np.all(neg(np.linspace(0, 1, 5)) == 0.01)
    assert np.isnan(fit(np.array([np.nan])))[0]


def test_dispersion_fit_dict_round_trip():
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1, 5000)
    fit = DispersionFit.fit(x, rng.normal(0, 0.1, 5000), label="logg", degree=2)
    back = DispersionFit.from_dict(json.loads(json.dumps(fit.to_dict())))
    grid = np.linspace(-0.5, 1.5, 11)
    np.testing.assert_array_equal(back(grid), fit(grid))
    assert back == fit


def _fake_training(n: int = 20_000, seed: int = 4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    true = np.column_stack(
        [
            rng.uniform(4000, 6500, n),
            rng.uniform(1.0, 4.6, n),
            rng.uniform(-2.0, 0.5, n),
            rng.uniform(-0.1, 0.35, n),
            rng.uniform(-2.0, 0.5, n),
        ]
    )
    disp = np.array([59.0, 0.11, 0.07, 0.04, 0.07])  # the paper's Sect. 3.4 figures
    pred = true + rng.normal(0, 1, true.shape) * disp
    return true, pred, disp


def test_dispersion_model_total_sigma_and_json():
    true, pred, disp = _fake_training()
    model = DispersionModel.fit(true, pred, degree=3)
    assert model.labels == LABELS
    d = model.dispersion(pred[:1000])
    np.testing.assert_allclose(np.median(d, axis=0), disp, rtol=0.1)
    e = np.abs(np.random.default_rng(5).normal(0, 1, (1000, 5))) * disp / 2
    total = model.total_sigma(pred[:1000], e)
    np.testing.assert_allclose(total, np.sqrt(e**2 + d**2))
    assert total.shape == (1000, 5) and np.all(total >= e) and np.all(total >= d)
    back = DispersionModel.from_json(model.to_json())
    np.testing.assert_array_equal(back.total_sigma(pred[:1000], e), total)
    with pytest.raises(ValueError):
        DispersionModel.fit(true, pred[:, :4])


def test_coverage_of_gaussian_residuals():
    rng = np.random.default_rng(6)
    sigma = rng.uniform(0.05, 0.2, 200_000)
    r = rng.normal(0, sigma)
    one, two = coverage(r, sigma)
    assert one == pytest.approx(0.6827, abs=0.005)
    assert two == pytest.approx(0.9545, abs=0.003)
    # σ underestimated by 2: the coverage shows it
    assert coverage(r, sigma / 2)[0] == pytest.approx(0.3829, abs=0.005)
    # NaN ignored, scalar σ broadcast
    assert coverage(np.array([0.5, np.nan, 3.0]), 1.0) == (0.5, 0.5)


def test_running_dispersion_counts_a_running_bias_as_error():
    """σ_* must cover CNN − truth, bias included: a model pulled towards the middle of the
    label range is wrong at the ends even when its scatter there is small."""
    rng = np.random.default_rng(2)
    x = rng.uniform(0.0, 5.0, 40_000)  # log g
    bias = -0.1 * (x - 2.5)  # regression towards the middle
    r = bias + rng.normal(0.0, 0.05, x.size)
    centres, sigma = running_dispersion(x, r, n_bins=20)
    expected = np.sqrt((0.1 * (centres - 2.5)) ** 2 + 0.05**2)
    np.testing.assert_allclose(sigma, expected, rtol=0.2, atol=0.01)
    assert sigma[0] > 3 * 0.05 and sigma[-1] > 3 * 0.05  # not just the scatter
    _, rms = running_dispersion(x, r, n_bins=20, robust=False)
    np.testing.assert_allclose(rms, expected, rtol=0.1, atol=0.005)


def test_dispersion_leaves_out_the_model_spread_that_sigma_star_adds_back():
    rng = np.random.default_rng(3)
    x = rng.uniform(4000, 6000, 40_000)  # Teff
    e = np.full(x.size, 60.0)  # members disagree by 60 K
    r = rng.normal(0.0, np.hypot(80.0, 60.0), x.size)  # 80 K beyond the members' spread
    _, sigma = running_dispersion(x, r, n_bins=20, spread=e)
    np.testing.assert_allclose(sigma, 80.0, rtol=0.1)
    model = DispersionModel.fit(
        np.c_[x, np.zeros((x.size, 4))],
        np.c_[x + r, np.zeros((x.size, 4)) + rng.normal(0, 0.1, (x.size, 4))],
        spread=np.c_[e, np.zeros((x.size, 4))],
    )
    total = model.total_sigma(np.c_[x, np.zeros((x.size, 4))], np.c_[e, np.zeros((x.size, 4))])
    assert coverage(r, total[:, 0])[0] == pytest.approx(0.683, abs=0.02)  # honest again


def test_calibration_scale_is_the_share_quantile_of_normalised_residuals():
    rng = np.random.default_rng(3)
    sigma = rng.uniform(0.5, 2.0, 20_000)
    residual = 1.6 * sigma * rng.standard_normal(sigma.size)  # σ quoted 1.6x too small
    k = calibration_scale(residual, sigma)
    assert k == pytest.approx(1.6, rel=0.03)
    assert coverage(residual, k * sigma)[0] == pytest.approx(0.6827, abs=0.002)
    # NaN ignored; nothing usable: no change; never below the floor
    assert calibration_scale(np.append(residual, np.nan), np.append(sigma, 1.0)) == k
    assert calibration_scale(np.array([np.nan]), np.array([1.0])) == 1.0
    assert calibration_scale(np.zeros(10), np.ones(10)) == 0.1


def test_calibration_scale_leaves_the_reference_labels_noise_out():
    # residual against a noisy reference = CNN error (σ = 1) + reference error (ε = 1.5)
    rng = np.random.default_rng(4)
    n = 40_000
    eps = np.full(n, 1.5)
    residual = rng.standard_normal(n) + eps * rng.standard_normal(n)
    k_noisy = calibration_scale(residual, np.full(n, 0.5))
    k_clean = calibration_scale(residual, np.full(n, 0.5), unscaled=eps)
    assert k_noisy == pytest.approx(2 * np.hypot(1.0, 1.5), rel=0.03)
    # the exact inversion assumes coverage of sqrt(k²σ² + ε²), which a sum of Gaussians meets
    assert k_clean == pytest.approx(2.0, rel=0.06)
    assert coverage(residual, np.hypot(k_clean * 0.5, eps))[0] == pytest.approx(0.6827, abs=0.003)


def test_calibrated_dispersion_model_scales_sigma_and_round_trips():
    rng = np.random.default_rng(5)
    n = 5000
    true = rng.normal(0.0, 1.0, (n, len(LABELS)))
    pred = true + 0.1 * rng.standard_normal((n, len(LABELS)))
    model = DispersionModel.fit(true, pred)
    held_true = rng.normal(0.0, 1.0, (n, len(LABELS)))
    held_pred = held_true + 0.3 * rng.standard_normal((n, len(LABELS)))  # 3x worse held out
    e = np.zeros_like(held_pred)
    cal = model.calibrated(held_true, held_pred, e)
    assert model.scale is None and np.all(model.scales() == 1.0)
    np.testing.assert_allclose(cal.scales(), 3.0, rtol=0.08)
    np.testing.assert_allclose(
        cal.total_sigma(held_pred, e), cal.scales() * model.total_sigma(held_pred, e)
    )  # e = 0: the whole σ_* is the dispersion term
    # only the dispersion term is scaled: σ_* never falls below the members' spread e_*
    big_e = np.full_like(held_pred, 0.2)
    shrunk = DispersionModel(fits=model.fits, scale=dict.fromkeys(LABELS, 0.1))
    assert np.all(shrunk.total_sigma(held_pred, big_e) >= big_e)
    np.testing.assert_allclose(
        shrunk.total_sigma(held_pred, big_e), np.hypot(big_e, 0.1 * model.dispersion(held_pred))
    )
    with_e = model.calibrated(held_true, held_pred, big_e)
    sigma_e = with_e.total_sigma(held_pred, big_e)
    for j in range(len(LABELS)):
        share = coverage(held_pred[:, j] - held_true[:, j], sigma_e[:, j])
        assert share[0] == pytest.approx(0.6827, abs=0.01)
    for j in range(len(LABELS)):
        share = coverage(held_pred[:, j] - held_true[:, j], cal.total_sigma(held_pred, e)[:, j])
        assert share[0] == pytest.approx(0.6827, abs=0.01)
    back = DispersionModel.from_json(cal.to_json())
    np.testing.assert_array_equal(back.scales(), cal.scales())
    old = cal.to_dict()
    del old["scale"]  # a version written before calibration
    assert np.all(DispersionModel.from_dict(old).scales() == 1.0)
