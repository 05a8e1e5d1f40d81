"""Preprocessing (Sect. 2.1, 3.1): NaN filling, min-max scaling, XP normalisation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from labeling.dataset import ArraySpectra, StarSet
from labeling.labels import LABELS, N_PIXELS, N_XP, PHOT_COLUMNS
from labeling.preprocess import (
    CONTINUUM_WINDOWS_A,
    EMPTY_SPECTRUM_FILL,
    WAVELENGTH_NM,
    XP_COLUMNS,
    MinMaxScaler,
    Preprocessor,
    continuum_mask,
    fill_nan_flux,
    normalise_xp,
    phot_features,
    xp_relative,
)


def test_grid_and_windows():
    assert WAVELENGTH_NM.shape == (N_PIXELS,)
    assert WAVELENGTH_NM[0] == 846.0 and WAVELENGTH_NM[-1] == 870.0
    assert CONTINUUM_WINDOWS_A == ((8475, 8495), (8561, 8582), (8627, 8648))
    mask = continuum_mask()
    # inclusive bounds on the 0.1 Å grid: 201 + 211 + 211 pixels
    assert mask.sum() == 201 + 211 + 211
    idx = np.flatnonzero(mask)
    assert 10 * WAVELENGTH_NM[idx[0]] == pytest.approx(8475.0)
    assert 10 * WAVELENGTH_NM[idx[-1]] == pytest.approx(8648.0)
    assert mask[np.argmin(np.abs(WAVELENGTH_NM - 858.2))]  # 8582 Å, an upper bound
    assert not mask[np.argmin(np.abs(WAVELENGTH_NM - 858.21))]
    assert not mask[np.argmin(np.abs(WAVELENGTH_NM - 854.2))]  # Ca II 8542


def _hand_q3(values: np.ndarray) -> float:
    """Upper quartile with linear interpolation between order statistics, by hand."""
    v = np.sort(values)
    pos = 0.75 * (len(v) - 1)
    lo = int(np.floor(pos))
    return float(v[lo] + (pos - lo) * (v[lo + 1] - v[lo]))


def test_fill_nan_uses_q3_of_the_windows():
    rng = np.random.default_rng(1)
    flux = (1.0 - 0.3 * rng.random((3, N_PIXELS))).astype(np.float32)
    wl_a = 10 * WAVELENGTH_NM
    in_win = np.zeros(N_PIXELS, bool)
    for lo, hi in CONTINUUM_WINDOWS_A:
        in_win |= (wl_a > lo - 0.05) & (wl_a < hi + 0.05)
    # star 0: NaN gap on the Ca line and one NaN inside a window; star 1 no NaN; star 2 edge run
    flux[0, 900:950] = np.nan
    flux[0, np.flatnonzero(in_win)[5]] = np.nan
    flux[2, :40] = np.nan
    flux[0, 2000] = 5.0  # an outlier outside the windows must not matter
    out = fill_nan_flux(flux)
    assert out.dtype == np.float32 and out.shape == flux.shape
    assert np.isfinite(out).all()
    finite0 = flux[0, in_win]
    q3 = _hand_q3(finite0[np.isfinite(finite0)])
    np.testing.assert_allclose(out[0, 900:950], q3, rtol=1e-6)
    np.testing.assert_allclose(out[0, np.flatnonzero(in_win)[5]], q3, rtol=1e-6)
    np.testing.assert_allclose(out[2, :40], _hand_q3(flux[2, in_win]), rtol=1e-6)
    np.testing.assert_array_equal(out[1], flux[1])
    finite = np.isfinite(flux)
    np.testing.assert_array_equal(out[finite], flux[finite])
    assert np.isnan(flux).any()  # input untouched


def test_fill_nan_small_hand_example():
    # window values 1, 2, 3, 4, 5 (rest of the windows NaN): Q3 = 4
    flux = np.full((1, N_PIXELS), np.nan, np.float32)
    win = np.flatnonzero(continuum_mask())
    flux[0, win[:5]] = [5, 1, 4, 2, 3]
    flux[0, 0] = 0.2  # outside the windows
    out = fill_nan_flux(flux)
    assert out[0, 1] == pytest.approx(4.0)
    assert out[0, 0] == pytest.approx(0.2)


def test_fill_nan_fallbacks_and_one_spectrum():
    flux = np.full((2, N_PIXELS), np.nan, np.float32)
    flux[0, :4] = [0.5, 0.6, 0.7, 0.8]  # nothing in the windows: Q3 of all finite pixels
    out = fill_nan_flux(flux)
    np.testing.assert_allclose(out[0, 100], np.percentile([0.5, 0.6, 0.7, 0.8], 75), rtol=1e-6)
    np.testing.assert_array_equal(out[1], EMPTY_SPECTRUM_FILL)
    single = fill_nan_flux(flux[0])
    assert single.shape == (N_PIXELS,)
    np.testing.assert_array_equal(single, out[0])
    flux[0, 10] = np.inf
    assert np.isfinite(fill_nan_flux(flux)).all()


def test_fill_nan_custom_grid():
    wl = np.round(847.0 + 0.01 * np.arange(300), 2)  # covers only 8475-8495 of the windows
    flux = np.ones((1, 300), np.float32)
    flux[0, 50:60] = np.nan
    flux[0, (10 * wl >= 8475) & (10 * wl <= 8495)] = np.linspace(0.9, 1.0, 201)
    flux[0, 60] = np.nan
    out = fill_nan_flux(flux, wl)
    win = flux[0, (10 * wl >= 8475) & (10 * wl <= 8495)]
    np.testing.assert_allclose(out[0, 60], _hand_q3(win[np.isfinite(win)]), rtol=1e-6)
    with pytest.raises(ValueError):
        fill_nan_flux(flux, WAVELENGTH_NM)


def test_minmax_scaler_round_trip_and_json():
    rng = np.random.default_rng(2)
    x = np.column_stack([rng.normal(4800, 600, 50), rng.normal(2.5, 1, 50), np.full(50, 3.0)])
    sc = MinMaxScaler.fit(x, ("a", "b", "c"))
    y = sc.transform(x)
    assert y.min(axis=0)[:2] == pytest.approx([0, 0]) and y.max(axis=0)[:2] == pytest.approx([1, 1])
    np.testing.assert_array_equal(y[:, 2], 0.0)  # a constant column maps to 0
    np.testing.assert_allclose(sc.inverse_transform(y), x, rtol=1e-12)
    # outside the training range: not clipped, and the inverse is exact
    out = np.array([[x[:, 0].max() + 600, x[:, 1].min() - 1, 5.0]])
    yo = sc.transform(out)
    assert yo[0, 0] > 1 and yo[0, 1] < 0 and yo[0, 2] == 2.0
    np.testing.assert_allclose(sc.inverse_transform(yo), out)
    again = MinMaxScaler.from_dict(json.loads(json.dumps(sc.to_dict())))
    assert again.columns == sc.columns
    np.testing.assert_array_equal(again.min, sc.min)
    np.testing.assert_array_equal(again.max, sc.max)
    np.testing.assert_array_equal(again.transform(x), y)


def test_minmax_scaler_ignores_nan_and_checks_shapes():
    x = np.array([[1.0, np.nan], [3.0, 2.0], [np.nan, 4.0]])
    sc = MinMaxScaler.fit(x, ("a", "b"))
    np.testing.assert_array_equal(sc.min, [1, 2])
    np.testing.assert_array_equal(sc.max, [3, 4])
    with pytest.raises(ValueError):
        MinMaxScaler.fit(np.array([[np.nan, 1.0]]), ("a", "b"))
    with pytest.raises(ValueError):
        sc.transform(np.ones((2, 3)))


def test_xp_normalisation_divides_by_first_coefficient():
    rng = np.random.default_rng(3)
    xp = rng.normal(0, 50, (4, N_XP))
    xp[:, 0] = [1000, 2000, 500, 800]
    xp[:, 55] = [3000, 100, 700, 1600]
    rel = xp_relative(xp)
    np.testing.assert_allclose(rel[:, :55], xp[:, :55] / xp[:, :1])
    np.testing.assert_allclose(rel[:, 55:], xp[:, 55:] / xp[:, 55:56])
    np.testing.assert_array_equal(rel[:, [0, 55]], 1.0)
    np.testing.assert_array_equal(normalise_xp(xp), rel)
    sc = MinMaxScaler.fit(rel, XP_COLUMNS)
    scaled = normalise_xp(xp, sc)
    np.testing.assert_allclose(
        scaled, (rel - rel.min(0)) / np.where(np.ptp(rel, 0) > 0, np.ptp(rel, 0), 1)
    )
    assert scaled.min() == pytest.approx(0) and scaled.max() == pytest.approx(1)
    # flux scale cancels: a star twice as bright has the same relative coefficients
    np.testing.assert_allclose(xp_relative(2 * xp), rel)
    with pytest.raises(ValueError):
        xp_relative(xp[:, :100])


def _stars(n: int = 30, labels: bool = True, seed: int = 4) -> StarSet:
    rng = np.random.default_rng(seed)
    flux = (1 - 0.2 * rng.random((n, N_PIXELS))).astype(np.float32)
    flux[::3, 100:130] = np.nan
    xp = rng.normal(0, 20, (n, N_XP))
    xp[:, 0] = rng.uniform(500, 5000, n)
    xp[:, 55] = rng.uniform(500, 5000, n)
    phot = np.column_stack(
        [
            rng.uniform(8, 14, n),
            rng.uniform(8.5, 14.5, n),
            rng.uniform(7.5, 13.5, n),
            rng.uniform(0.1, 5, n),
        ]
    )
    lab = np.column_stack(
        [
            rng.uniform(3800, 6500, n),
            rng.uniform(1, 4.6, n),
            rng.uniform(-2, 0.4, n),
            rng.uniform(-0.1, 0.35, n),
            rng.uniform(-2.1, 0.4, n),
        ]
    )
    return StarSet(
        source_id=np.arange(n, dtype=np.int64) + 10,
        spectra=ArraySpectra(flux),
        phot=phot,
        xp=xp,
        snr=rng.uniform(30, 200, n),
        labels=lab if labels else None,
    )


def test_preprocessor_inputs_and_targets():
    stars = _stars()
    pre = Preprocessor.fit(stars)
    assert pre.labels.columns == LABELS and pre.phot.columns == PHOT_COLUMNS
    idx = np.array([0, 3, 7, 8])
    x = pre.inputs(stars, idx)
    assert set(x) == {"spectrum", "phot", "xp"}
    assert x["spectrum"].shape == (4, N_PIXELS, 1) and x["spectrum"].dtype == np.float32
    assert x["phot"].shape == (4, 4) and x["phot"].dtype == np.float32
    assert x["xp"].shape == (4, N_XP) and x["xp"].dtype == np.float32
    for v in x.values():
        assert np.isfinite(v).all()
    np.testing.assert_allclose(
        x["spectrum"][:, :, 0], fill_nan_flux(stars.spectra.get(idx)), rtol=0
    )
    features = stars.phot[idx].copy()
    features[:, 3] = np.arcsinh(features[:, 3] / 0.1)  # parallax: asinh(ϖ / 0.1 mas)
    np.testing.assert_allclose(x["phot"], pre.phot.transform(features), rtol=1e-6)
    np.testing.assert_allclose(x["xp"], normalise_xp(stars.xp[idx], pre.xp), rtol=1e-5, atol=1e-6)
    full = pre.inputs(stars)
    assert full["phot"].min() == pytest.approx(0) and full["phot"].max() == pytest.approx(1)
    y = pre.targets(stars.labels)
    assert y.dtype == np.float32 and y.shape == (len(stars), 5)
    assert y.min() == pytest.approx(0) and y.max() == pytest.approx(1)
    np.testing.assert_allclose(pre.labels_from_scaled(y), stars.labels, rtol=1e-5)


def test_preprocessor_subset_out_of_range_and_json():
    train, other = _stars(seed=5), _stars(n=10, labels=False, seed=6)
    pre = Preprocessor.fit(train)
    with pytest.raises(ValueError):
        Preprocessor.fit(other)
    other.phot[0, 0] = 2.0  # brighter than anything in the training set: scaled < 0, kept
    x = pre.inputs(other.subset(np.array([0, 2])))
    assert x["phot"][0, 0] < 0
    d = json.loads(json.dumps(pre.to_dict()))
    again = Preprocessor.from_dict(d)
    for name in ("spectrum", "phot", "xp"):
        np.testing.assert_array_equal(again.inputs(other)[name], pre.inputs(other)[name])
    np.testing.assert_array_equal(again.targets(train.labels), pre.targets(train.labels))
    d["phot"]["columns"] = d["phot"]["columns"][::-1]
    with pytest.raises(ValueError):
        Preprocessor.from_dict(d)
    with pytest.raises(ValueError):
        Preprocessor.from_dict({**pre.to_dict(), "format": "other"})


def test_preprocessor_rejects_incomplete_inputs():
    stars = _stars()
    pre = Preprocessor.fit(stars)
    stars.phot[2, 3] = np.nan
    with pytest.raises(ValueError, match="phot"):
        pre.inputs(stars, np.array([1, 2]))
    stars.xp[5, 55] = 0.0
    with pytest.raises(ValueError, match="xp"):
        pre.inputs(stars, np.array([5]))


def test_parallax_enters_as_asinh_and_format_1_loads_as_linear():
    phot = np.array([[10.0, 10.5, 9.5, -0.3], [12.0, 12.4, 11.5, 0.2], [8.0, 8.6, 7.4, 80.0]])
    f = phot_features(phot, 0.1)
    np.testing.assert_allclose(f[:, 3], np.arcsinh(phot[:, 3] / 0.1))
    np.testing.assert_array_equal(f[:, :3], phot[:, :3])
    assert np.isfinite(f).all()  # negative parallaxes of distant stars stay usable
    np.testing.assert_array_equal(phot_features(phot, None), phot)  # the paper's linear ϖ
    # log-like above 0.1 mas: 1 -> 10 mas moves as far as 10 -> 100 mas
    a, b, c = np.arcsinh(np.array([1.0, 10.0, 100.0]) / 0.1)
    assert (b - a) == pytest.approx(c - b, rel=0.01)
    scaler = MinMaxScaler.fit(phot, PHOT_COLUMNS)
    old = {
        "format": "rvs-cnn-preprocessor/1",
        "labels": MinMaxScaler.fit(np.eye(5), LABELS).to_dict(),
        "phot": scaler.to_dict(),
        "xp": MinMaxScaler.fit(np.ones((2, N_XP)), XP_COLUMNS).to_dict(),
    }
    loaded = Preprocessor.from_dict(old)
    assert loaded.parallax_softening_mas is None
    np.testing.assert_allclose(loaded.phot_inputs(phot), scaler.transform(phot))
    new = Preprocessor.from_dict({**old, "format": "rvs-cnn-preprocessor/2",
                                  "parallax_softening_mas": 0.1})  # fmt: skip
    assert new.parallax_softening_mas == 0.1
    assert Preprocessor.from_dict(new.to_dict()).to_dict() == new.to_dict()
    with pytest.raises(ValueError, match="format"):
        Preprocessor.from_dict({**old, "format": "rvs-cnn-preprocessor/3"})
