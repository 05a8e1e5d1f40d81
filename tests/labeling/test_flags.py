"""flag_boundary: Table 1 ranges and the t-SNE training-like test (paper Sect. 5)."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from labeling.augment import degrade
from labeling.flags import (
    FLAG_ORDER,
    TrainingRanges,
    TsneReference,
    _as_flux,
    _project,
    boundary_flags,
)
from labeling.labels import LABELS
from labeling.synthetic import OUTSIDE_TRAINING, SkyConfig, block_rng, generate_chunk


# ---------------------------------------------------------------------------- ranges and digits
def _ranges() -> TrainingRanges:
    rng = np.random.default_rng(0)
    n = 5000
    labels = np.column_stack(
        [
            rng.uniform(4000, 6500, n),
            rng.uniform(1.0, 4.6, n),
            rng.uniform(-2.0, 0.5, n),
            rng.uniform(-0.1, 0.4, n),
            rng.uniform(-2.0, 0.5, n),
        ]
    )
    return TrainingRanges.from_training(labels, rng.uniform(7, 14.2, n), rng.uniform(0.2, 7, n))


def test_training_ranges_quantiles_and_round_trip():
    r = _ranges()
    assert r.lo["teff"] == pytest.approx(4000, abs=10) and r.hi["teff"] == pytest.approx(
        6500, abs=10
    )
    assert r.hi["phot_g_mean_mag"] == pytest.approx(14.2, abs=0.05)
    assert r.lo["parallax"] < r.hi["parallax"] < 7
    back = TrainingRanges.from_dict(json.loads(json.dumps(r.to_dict())))
    assert back == r
    # one wild star does not widen the default range, but does widen min/max
    labels = np.tile([5000.0, 2.5, 0.0, 0.1, 0.0], (2000, 1)) + np.random.default_rng(1).normal(
        0, 0.01, (2000, 5)
    )
    labels[0, 0] = 9000.0
    g, plx = np.full(2000, 10.0), np.full(2000, 1.0)
    assert TrainingRanges.from_training(labels, g, plx).hi["teff"] < 5001
    assert TrainingRanges.from_training(labels, g, plx, quantiles=(0, 100)).hi["teff"] == 9000.0


def test_boundary_flags_each_digit_independent():
    r = _ranges()
    lo, hi = r.bounds()
    inside = (lo + hi) / 2
    n = 1 + 2 * 7 + 2  # clean star, one star below / above each range, NaN label, t-SNE
    cols = np.tile(inside, (n, 1))
    tl = np.ones(n, dtype=bool)
    expected = ["00000000"]
    for j in range(7):
        cols[1 + 2 * j, j] = lo[j] - 1e-3 * (abs(lo[j]) + 1)
        cols[2 + 2 * j, j] = hi[j] + 1e-3 * (abs(hi[j]) + 1)
        digit = "".join("1" if i == j else "0" for i in range(8))
        expected += [digit, digit]
    cols[15, 2] = np.nan  # a NaN label is outside
    expected.append("00100000")
    tl[16] = False
    expected.append("00000001")
    flags = boundary_flags(cols[:, :5], cols[:, 5], cols[:, 6], tl, r)
    assert flags.dtype == np.dtype("<U8")
    assert flags.tolist() == expected
    assert all(len(f) == 8 and set(f) <= {"0", "1"} for f in flags)
    assert len(FLAG_ORDER) == 8 and FLAG_ORDER[:5] == LABELS
    # bounds are inclusive
    edge = boundary_flags(lo[None, :5], lo[5:6], lo[6:7], np.array([True]), r)
    assert edge.tolist() == ["00000000"]
    with pytest.raises(ValueError):
        boundary_flags(cols[:, :4], cols[:, 5], cols[:, 6], tl, r)
    with pytest.raises(ValueError):
        boundary_flags(cols[:, :5], cols[:, 5], cols[:, 6], tl[:3], r)


# ---------------------------------------------------------------------------- t-SNE reference
@pytest.fixture(scope="module")
def sky() -> dict[str, np.ndarray]:
    chunks = [generate_chunk(block_rng(11, b), 1000, b * 1000, SkyConfig()) for b in range(3)]
    flux = np.concatenate([c.rvs["flux"] for c in chunks]).astype(np.float32)
    truth = {k: np.concatenate([c.truth[k] for c in chunks]) for k in ("population", "anomaly")}
    snr = np.concatenate([c.gaia_source["rvs_spec_sig_to_noise"] for c in chunks])
    return {"flux": flux, "snr": snr} | truth


@pytest.fixture(scope="module")
def reference(sky) -> tuple[TsneReference, np.ndarray]:
    train = np.flatnonzero(
        ~np.isin(sky["population"], OUTSIDE_TRAINING) & (sky["anomaly"] == "") & (sky["snr"] >= 30)
    )[:450]
    ref = TsneReference.fit(
        sky["flux"][train],
        perplexities=(30, 50, 75, 100),
        n_components_pca=20,
        seed=3,
        n_jobs=2,
        tsne_params={"n_iter": 60, "early_exaggeration_iter": 40},
        transform_params={"n_iter": 30},
        snr=sky["snr"][train],
    )
    return ref, train


def test_tsne_reference_training_like(reference, sky):
    ref, train = reference
    assert ref.perplexities == (30, 50, 75, 100)
    assert set(ref.map_thresholds) == {30, 50, 75, 100}
    assert ref.input_threshold > 0 and ref.residual_threshold > 0
    flux, pop = sky["flux"], sky["population"]
    # training spectra; OB stars (Paschen lines); M giants (TiO); pure noise: one call
    groups = {"train": train[:200]}
    for name in ("ob_star", "m_giant"):
        groups[name] = np.flatnonzero((pop == name) & (sky["anomaly"] == ""))[:60]
        assert len(groups[name]) >= 30
    noise = 1.0 + np.random.default_rng(0).normal(0, 0.3, (30, flux.shape[1]))
    spectra = np.concatenate([flux[g] for g in groups.values()] + [noise])
    d = ref.distances(spectra)
    tl = ref.decide(d)
    np.testing.assert_array_equal(tl, ref.training_like(spectra))
    bounds = np.cumsum([0] + [len(g) for g in groups.values()] + [len(noise)])
    part = {name: slice(bounds[i], bounds[i + 1]) for i, name in enumerate([*groups, "noise"])}
    assert tl[part["train"]].mean() >= 0.95
    assert (~tl[part["ob_star"]]).mean() >= 0.9
    assert (~tl[part["m_giant"]]).mean() >= 0.9
    assert not tl[part["noise"]].any()
    assert (d["residual"][part["noise"]] > ref.residual_threshold).all()
    # batching does not change the answer: each star is placed against the fixed maps only
    d_batched = ref.distances(spectra[:60], batch_size=25)
    for key in d:
        np.testing.assert_allclose(d_batched[key], d[key][:60], rtol=1e-6)


def _line_spectra(rng: np.random.Generator, n: int, extra_line: float = 0.0) -> np.ndarray:
    """Noise-free spectra of a two-parameter family (Ca II triplet depths) on the RVS grid."""
    wl = np.linspace(846.0, 870.0, 2401)
    depth = rng.uniform(0.2, 0.6, (n, 2))

    def line(centre: float) -> np.ndarray:
        return np.exp(-0.5 * ((wl - centre) / 0.15) ** 2)[None, :]

    flux = 1.0 - depth[:, :1] * (line(849.8) + line(854.2)) - depth[:, 1:] * line(866.2)
    return (flux - extra_line * line(860.0)).astype(np.float32)


def test_tsne_neighbourhood_threshold_follows_snr():
    """A spectrum of the training family observed at S/N 15 is training-like, another family is
    not. With the threshold of the S/N 40 training spectra alone, noise flags the first: the
    denser the training sample, the smaller that threshold, while a noisy spectrum's distance
    to its neighbours stays its own noise."""
    rng = np.random.default_rng(8)
    n = 1500
    train = degrade(_line_spectra(rng, n), np.full(n, np.inf), np.full(n, 40.0), rng)
    ref = TsneReference.fit(
        train,
        perplexities=(30,),
        n_components_pca=10,
        seed=2,
        n_jobs=2,
        tsne_params={"n_iter": 60, "early_exaggeration_iter": 40},
        transform_params={"n_iter": 30},
        snr=np.full(n, 40.0),
    )
    by_snr = ref.input_threshold_by_snr
    grid = sorted(by_snr)
    assert grid == [15.0, 20.0, 25.0, 30.0, 40.0, 60.0, 100.0]
    values = [by_snr[g] for g in grid]
    assert values == sorted(values, reverse=True) and values[-1] >= ref.input_threshold
    assert values[0] > 1.5 * ref.input_threshold
    at = ref.input_thresholds(np.array([15.0, 17.5, 1e4, np.nan]), 4)
    np.testing.assert_allclose(at[[0, 2, 3]], [values[0], values[-1], values[0]])
    assert values[1] < at[1] < values[0]
    np.testing.assert_array_equal(ref.input_thresholds(None, 2), ref.input_threshold)

    m = 300
    low = np.full(m, 15.0)
    same = degrade(_line_spectra(rng, m), np.full(m, np.inf), low, rng)
    other = degrade(_line_spectra(rng, m, extra_line=0.5), np.full(m, np.inf), low, rng)
    # ~5 % fail at the 99.5th-percentile thresholds (14 of 300 the neighbourhood test, 1–2 the
    # map's, which exact and Annoy neighbours place a hair apart)
    assert ref.training_like(same, low).mean() >= 0.93
    assert ref.training_like(same).mean() < 0.2
    assert not ref.training_like(other, low).any()


def test_tsne_reference_save_load_identical(reference, sky, tmp_path):
    ref, _ = reference
    ref.save(tmp_path / "tsne")
    back = TsneReference.load(tmp_path / "tsne")
    assert back.map_thresholds == ref.map_thresholds
    assert back.input_threshold == ref.input_threshold
    assert back.residual_threshold == ref.residual_threshold
    assert back.input_threshold_by_snr == ref.input_threshold_by_snr
    idx = np.random.default_rng(5).choice(len(sky["flux"]), 150, replace=False)
    d0, d1 = ref.distances(sky["flux"][idx]), back.distances(sky["flux"][idx])
    for key in d0:
        np.testing.assert_array_equal(d0[key], d1[key])
    np.testing.assert_array_equal(ref.decide(d0), back.decide(d1))


class _CountingTree:
    """A cKDTree that counts its searches."""

    def __init__(self, tree) -> None:
        self.tree, self.calls = tree, 0

    def query(self, *args, **kwargs):
        self.calls += 1
        return self.tree.query(*args, **kwargs)


def test_tsne_maps_share_one_exact_neighbour_index(reference, sky, monkeypatch):
    ref, _ = reference
    assert {id(e.affinities.knn_index) for e in ref.embeddings.values()} == {id(ref.neighbours)}
    # what only the fit needed is not kept (it was most of a labelling worker's memory)
    for e in ref.embeddings.values():
        assert e.affinities.P is None
        fit_lists = [k for k in vars(e.affinities) if k.endswith(("__neighbors", "__distances"))]
        assert fit_lists and all(getattr(e.affinities, k) is None for k in fit_lists)

    x = _project(_as_flux(sky["flux"][:200]), ref.mean, ref.components)
    idx, dist = ref.neighbours.query(x, 7)
    brute = np.linalg.norm(x[:, None, :] - ref.neighbours.data[None], axis=2)
    np.testing.assert_array_equal(idx, np.argsort(brute, axis=1)[:, :7])
    np.testing.assert_allclose(dist, np.sort(brute, axis=1)[:, :7], rtol=1e-10)

    # one search per batch: the next map's question (same rows, a copy) is answered from it
    counting = _CountingTree(ref.neighbours._tree)
    monkeypatch.setattr(ref.neighbours, "_tree", counting)
    ref.neighbours.query(x[:50], 15)
    again = ref.neighbours.query(x[:50].copy(), 10)
    np.testing.assert_array_equal(again[0], np.argsort(brute[:50], axis=1)[:, :10])
    assert counting.calls == 1
    ref.neighbours.query(x[:50] + 1e-9, 10)  # other rows: searched again
    assert counting.calls == 2
    ref.distances(sky["flux"][:60])  # four maps and the neighbourhood test: one search
    assert counting.calls == 3
    monkeypatch.undo()

    back = pickle.loads(pickle.dumps(ref.neighbours))
    np.testing.assert_array_equal(back.query(x, 7)[0], idx)


def test_pca_scores_are_computed_in_row_batches():
    rng = np.random.default_rng(4)
    flux = rng.normal(1, 0.1, (25, 40)).astype(np.float32)
    mean, comps = flux.mean(0), rng.normal(size=(3, 40)).astype(np.float32)
    want = (flux.astype(np.float64) - mean) @ comps.T.astype(np.float64)
    np.testing.assert_allclose(_project(flux, mean, comps, rows=7), want, rtol=1e-12)
