"""The deep ensemble of Sect. 3.2: splits, streamed batches, members, ensemble prediction."""

from __future__ import annotations

import dataclasses
import gc
import os
import weakref

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from dataclasses import dataclass, field  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from labeling.augment import NoiseAugmentation, degrade  # noqa: E402
from labeling.dataset import ArraySpectra, StarSet  # noqa: E402
from labeling.ensemble import (  # noqa: E402
    CompiledEnsemble,
    EnsembleConfig,
    StarBatches,
    load_member,
    make_splits,
    member_seed,
    predict_ensemble,
    train_member,
)
from labeling.model import build_model  # noqa: E402
from labeling.synthetic import SkyConfig, generate_chunk  # noqa: E402


@dataclass
class SpySpectra:
    """An in-memory SpectrumSource that records every request."""

    flux: np.ndarray
    calls: list[np.ndarray] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.flux)

    def get(self, indices: np.ndarray) -> np.ndarray:
        indices = np.asarray(indices)
        self.calls.append(indices.copy())
        return self.flux[indices]


class MinMaxPrep:
    """A tiny stand-in for labeling/preprocess.py: min-max scaling, NaN → 1."""

    def __init__(self, stars: StarSet) -> None:
        self.phot = (stars.phot.min(0), np.ptp(stars.phot, 0) + 1e-9)
        self.xp = (stars.xp.min(0), np.ptp(stars.xp, 0) + 1e-9)
        self.lab = (stars.labels.min(0), np.ptp(stars.labels, 0))

    def inputs(self, stars: StarSet, indices: np.ndarray) -> dict[str, np.ndarray]:
        flux = np.nan_to_num(stars.spectra.get(indices), nan=1.0)
        return {
            "spectrum": flux[:, :, None].astype(np.float32),
            "phot": ((stars.phot[indices] - self.phot[0]) / self.phot[1]).astype(np.float32),
            "xp": ((stars.xp[indices] - self.xp[0]) / self.xp[1]).astype(np.float32),
        }

    def targets(self, labels: np.ndarray) -> np.ndarray:
        return ((labels - self.lab[0]) / self.lab[1]).astype(np.float32)

    def labels_from_scaled(self, y: np.ndarray) -> np.ndarray:
        return np.asarray(y, np.float64) * self.lab[1] + self.lab[0]


def make_stars(n: int = 240, seed: int = 0, spy: bool = False) -> StarSet:
    """Synthetic RVS stars with XP coefficients and their true labels."""
    c = generate_chunk(np.random.default_rng(seed), n + n // 10 + 10, 0, SkyConfig())
    keep = np.flatnonzero(c.truth["has_xp"])[:n]
    xp_rows = np.cumsum(c.truth["has_xp"]) - 1
    g = c.gaia_source
    phot = np.stack(
        [g["phot_g_mean_mag"], g["phot_bp_mean_mag"], g["phot_rp_mean_mag"], g["parallax"]], 1
    )[keep]
    xp = np.hstack([c.xp["bp_coefficients"], c.xp["rp_coefficients"]])[xp_rows[keep]]
    labels = np.stack([c.truth[k] for k in ("teff", "logg", "m_h", "alpha_m", "fe_h")], 1)
    flux = c.rvs["flux"][keep]
    return StarSet(
        source_id=c.truth["source_id"][keep],
        spectra=SpySpectra(flux) if spy else ArraySpectra(flux),
        phot=phot.astype(np.float64),
        xp=xp.astype(np.float64),
        snr=c.truth["snr"][keep],
        labels=labels[keep],
    )


@pytest.fixture(scope="module")
def stars() -> StarSet:
    return make_stars()


@pytest.fixture(scope="module")
def prep(stars) -> MinMaxPrep:
    return MinMaxPrep(stars)


def test_splits_are_75_25_and_reproducible():
    cfg = EnsembleConfig()
    splits = make_splits(1000, cfg)
    assert len(splits) == 7 and cfg.n_models == 28
    for train, val in splits:
        assert len(train) == 750 and len(val) == 250
        assert not np.intersect1d(train, val).size
        assert np.array_equal(np.union1d(train, val), np.arange(1000))
    again = make_splits(1000, EnsembleConfig())
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(splits, again, strict=True))
    assert not np.array_equal(splits[0][1], splits[1][1])
    other = make_splits(1000, EnsembleConfig(seed=1))
    assert not np.array_equal(splits[0][1], other[0][1])
    seeds = {member_seed(cfg, s, m) for s in range(7) for m in range(4)}
    assert len(seeds) == 28


def test_batches_read_only_their_spectra():
    stars = make_stars(100, spy=True)
    prep = MinMaxPrep(stars)
    idx = np.arange(5, 95)
    ds = StarBatches(stars, prep, idx, 16, shuffle=True, seed=3)
    assert len(ds) == 6
    x, y = ds[0]
    assert x["spectrum"].shape == (16, 2401, 1) and x["spectrum"].dtype == np.float32
    assert x["phot"].shape == (16, 4) and x["xp"].shape == (16, 110)
    assert y.shape == (16, 5) and not np.isnan(x["spectrum"]).any()
    assert ds[5][0]["spectrum"].shape == (90 - 5 * 16, 2401, 1)
    seen = np.concatenate([ds.batch_indices(i) for i in range(len(ds))])
    assert np.array_equal(np.sort(seen), idx)
    assert all(len(c) <= 16 for c in stars.spectra.calls)
    # deterministic shuffle per epoch
    first = [ds.batch_indices(i) for i in range(len(ds))]
    twin = StarBatches(stars, prep, idx, 16, shuffle=True, seed=3)
    assert all(np.array_equal(a, twin.batch_indices(i)) for i, a in enumerate(first))
    ds.on_epoch_end()
    assert not np.array_equal(
        np.concatenate(first), np.concatenate([ds.batch_indices(i) for i in range(len(ds))])
    )
    twin.on_epoch_end()
    assert np.array_equal(ds.batch_indices(0), twin.batch_indices(0))
    rvs = StarBatches(stars, prep, idx, 16, input_names=("spectrum",), with_targets=False)
    assert set(rvs[0][0]) == {"spectrum"}


def test_a_member_whose_loss_is_never_finite_is_refused(tmp_path):
    stars = make_stars(80)
    prep = MinMaxPrep(stars)
    stars = dataclasses.replace(stars, labels=np.full_like(stars.labels, np.nan))
    cfg = EnsembleConfig(epochs=2, batch_size=32, val_batch_size=64, patience=5)
    split = make_splits(len(stars), cfg)[0]
    out = tmp_path / "m.keras"
    with pytest.raises(FloatingPointError, match="m.keras: validation loss not finite"):
        train_member(stars, prep, split, member_seed(cfg, 0, 0), cfg, out)
    assert not out.exists()


def test_member_learns_saves_and_reloads(tmp_path):
    stars = make_stars(160, spy=True)
    prep = MinMaxPrep(stars)
    cfg = EnsembleConfig(epochs=4, batch_size=32, val_batch_size=64, patience=5)
    split = make_splits(len(stars), cfg)[0]
    out = tmp_path / "m.keras"
    res = train_member(stars, prep, split, member_seed(cfg, 0, 0), cfg, out)
    assert out.is_file() and res.path == out
    assert res.epochs_run == 4 and len(res.history["loss"]) == 4
    assert res.history["loss"][-1] < res.history["loss"][0]
    assert res.best_val_loss == min(res.history["val_loss"])
    assert (res.n_train, res.n_val) == (120, 40)
    # streamed: no request larger than a batch, never the whole set
    assert max(len(c) for c in stars.spectra.calls) <= 64
    reloaded = load_member(out)
    x = prep.inputs(stars, np.arange(40))
    full = keras.saving.load_model(out)
    np.testing.assert_array_equal(reloaded.predict(x, verbose=0), full.predict(x, verbose=0))
    # the saved weights are the best epoch's (restore_best_weights)
    val_x = prep.inputs(stars, split[1])
    val_y = prep.targets(stars.labels[split[1]])
    mse = float(np.mean((reloaded.predict(val_x, verbose=0) - val_y) ** 2))
    assert mse == pytest.approx(res.best_val_loss, rel=1e-3)


@pytest.mark.parametrize("backend", ["xla", "onnx", "fused"])
def test_ensemble_prediction(stars, prep, backend):
    keras.utils.set_random_seed(0)
    a, b = build_model(), build_model()
    idx = np.arange(70)
    ens = CompiledEnsemble([a, b, a], micro_batch=32, backend=backend)
    pred = predict_ensemble(ens, stars, prep, batch_size=50, indices=idx, return_members=True)
    assert pred.mean.shape == (70, 5) and pred.std.shape == (70, 5)
    assert pred.members.shape == (3, 70, 5)
    x = prep.inputs(stars, idx)
    want = np.stack([prep.labels_from_scaled(m.predict(x, verbose=0)) for m in (a, b, a)])
    scale = np.ptp(stars.labels, 0)
    assert np.all(np.abs(pred.members - want) <= 1e-5 * scale)
    assert np.all(np.abs(pred.mean - want.mean(0)) <= 1e-5 * scale)
    assert np.all(np.abs(pred.std - want.std(0)) <= 1e-5 * scale)
    assert np.all(pred.std > 0)
    same = predict_ensemble(
        CompiledEnsemble([a, a], micro_batch=32, backend=backend), stars, prep, batch_size=64
    )
    assert same.mean.shape == (len(stars), 5)
    assert np.all(same.std == 0)
    assert same.members is None


def test_backend_choice(monkeypatch):
    """ "auto" runs the fused Keras model where Keras sees an accelerator, ONNX on a CPU."""
    from labeling import ensemble

    keras.utils.set_random_seed(3)
    members = [build_model()]
    assert CompiledEnsemble(members).backend == "onnx"
    monkeypatch.setattr(ensemble, "accelerator_available", lambda: True)
    fused = CompiledEnsemble(members)
    assert fused.backend == "fused" and fused.micro_batch == 8192
    with pytest.raises(ValueError, match="unknown backend 'gpu': one of auto, onnx"):
        CompiledEnsemble(members, backend="gpu")


def test_fused_ensemble_pads_to_few_shapes(stars, prep, monkeypatch):
    """Chunks reach the model padded to a power of two (so that a JIT backend compiles few
    shapes), and the padding never reaches the output."""
    keras.utils.set_random_seed(4)
    members = [build_model(), build_model()]
    ens = CompiledEnsemble(members, backend="fused", micro_batch=64)
    shapes = []
    predict = keras.Model.predict_on_batch

    def spy(self, x):
        shapes.append(len(x["spectrum"]))
        return predict(self, x)

    monkeypatch.setattr(keras.Model, "predict_on_batch", spy)
    for k in (1, 5, 33, 64, 100):
        x = prep.inputs(stars, np.arange(k))
        want = np.stack([m.predict(x, verbose=0) for m in members])
        np.testing.assert_allclose(ens(x), want, atol=1e-5)
    assert shapes == [1, 8, 64, 64, 64, 64]  # 100 = 64 + 36, the 36 padded to 64


def test_onnx_ensemble_keeps_no_keras_member(stars, prep):
    """The ONNX session holds the weights; a labelling worker does not keep the Keras members
    (and their TensorFlow state) beside it."""
    keras.utils.set_random_seed(2)
    members = [build_model(), build_model()]
    x = prep.inputs(stars, np.arange(20))
    want = np.stack([m.predict(x, verbose=0) for m in members])
    refs = [weakref.ref(m) for m in members]
    ens = CompiledEnsemble(members, backend="onnx")
    del members
    gc.collect()
    assert all(r() is None for r in refs)
    assert ens.n_members == 2
    np.testing.assert_allclose(ens(x), want, atol=1e-5)


def test_rvs_only_ensemble(stars, prep):
    keras.utils.set_random_seed(1)
    m = build_model("rvs_only")
    pred = predict_ensemble([m, m], stars, prep, batch_size=100, indices=np.arange(30))
    x = {"spectrum": prep.inputs(stars, np.arange(30))["spectrum"]}
    want = prep.labels_from_scaled(m.predict(x, verbose=0))
    assert np.all(np.abs(pred.mean - want) <= 1e-5 * np.ptp(stars.labels, 0))
    assert np.all(pred.std == 0)


def test_config_round_trip():
    cfg = EnsembleConfig(epochs=3, inputs="rvs_only")
    assert EnsembleConfig.from_dict(cfg.to_dict()) == cfg


def test_noise_augmentation_reaches_the_target_snr():
    rng = np.random.default_rng(0)
    flat = np.ones((400, 2401), dtype=np.float32)
    snr = np.full(400, 100.0)
    target = np.where(np.arange(400) < 200, 20.0, np.inf)
    out = degrade(flat, snr, target, rng)
    # added noise brings the total to 1/20 per pixel (1/100 of it was already there)
    added = np.std(out[:200] - 1.0)
    assert added == pytest.approx(np.sqrt(1 / 20**2 - 1 / 100**2), rel=0.01)
    np.testing.assert_array_equal(out[200:], flat[200:])  # not picked: untouched
    aug = NoiseAugmentation(min_snr=15.0, fraction=0.5)
    t = aug.target_snr(np.r_[np.full(1000, 80.0), np.full(10, 12.0), np.nan], rng)
    picked = np.isfinite(t)
    assert 0.4 < picked[:1000].mean() < 0.6 and not picked[1000:].any()
    assert (t[picked] >= 15.0).all() and (t[picked] <= 80.0).all()


def test_training_batches_are_augmented_reproducibly(stars, prep):
    aug = NoiseAugmentation(min_snr=15.0, fraction=1.0)
    idx = np.flatnonzero(stars.snr > 40)[:32]
    plain = StarBatches(stars, prep, idx, 16, shuffle=True, seed=3)
    noisy = StarBatches(stars, prep, idx, 16, shuffle=True, seed=3, augment=aug)
    twin = StarBatches(stars, prep, idx, 16, shuffle=True, seed=3, augment=aug)
    a, b = plain[0][0]["spectrum"], noisy[0][0]["spectrum"]
    assert np.std(b - a) > 0.01  # degraded towards S/N 15..own
    np.testing.assert_array_equal(b, twin[0][0]["spectrum"])  # same (seed, epoch, batch)
    noisy.on_epoch_end()
    assert not np.array_equal(b, noisy[0][0]["spectrum"])  # new noise each epoch
    assert EnsembleConfig().augment_min_snr == 15.0
    assert (
        EnsembleConfig.from_dict(EnsembleConfig(augment_min_snr=None).to_dict()).augment_min_snr
        is None
    )


def test_training_and_inference_code_needs_no_zarr():
    # bench/gpu.py runs labeling.ensemble on machines without zarr (docs/benchmarks.md)
    import subprocess
    import sys

    code = "import sys, labeling.ensemble; print('zarr' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
