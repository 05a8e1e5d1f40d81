"""Mean CNN gradients and their plot (paper Sect. 3.5, Figs. 9 and 10)."""

from __future__ import annotations

import keras  # noqa: E402
import numpy as np
import pytest

from labeling.gradients import Gradients, mean_gradients, plot_gradients  # noqa: E402
from labeling.labels import N_PIXELS, N_XP  # noqa: E402
from labeling.wavelength import air_to_vacuum  # noqa: E402


def _linear_model(seed: int, with_xp: bool = True) -> keras.Model:
    """y = W_s·spectrum + W_p·phot + W_x·xp + b: its gradients are its weights."""
    keras.utils.set_random_seed(seed)
    spec = keras.Input((N_PIXELS, 1), name="spectrum")
    parts = [keras.layers.Dense(5, name="w_spec")(keras.layers.Flatten()(spec))]
    inputs = [spec]
    if with_xp:
        phot = keras.Input((4,), name="phot")
        xp = keras.Input((N_XP,), name="xp")
        parts += [
            keras.layers.Dense(5, name="w_phot")(phot),
            keras.layers.Dense(5, name="w_xp")(xp),
        ]
        inputs += [phot, xp]
    out = keras.layers.Add()(parts) if len(parts) > 1 else parts[0]
    return keras.Model(inputs, out)


def _inputs(k: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "spectrum": (1 + 0.05 * rng.standard_normal((k, N_PIXELS))).astype(np.float32),
        "phot": rng.random((k, 4)).astype(np.float32),
        "xp": rng.random((k, N_XP)).astype(np.float32),
    }


def test_linear_model_gradients_equal_weights():
    models = [_linear_model(1), _linear_model(2)]
    g = mean_gradients(models, _inputs(37), batch_size=10)  # batches of 10, 10, 10, 7
    w_spec = np.mean([m.get_layer("w_spec").kernel.numpy().T for m in models], axis=0)
    w_xp = np.mean([m.get_layer("w_xp").kernel.numpy().T for m in models], axis=0)
    assert g.spectrum.shape == (5, N_PIXELS) and g.xp.shape == (5, N_XP)
    np.testing.assert_allclose(g.spectrum, w_spec, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(g.xp, w_xp, rtol=1e-5, atol=1e-7)
    assert (g.n_stars, g.n_models, g.n_models_xp) == (37, 2, 2)


def test_rvs_only_model_and_mixed_ensemble():
    rvs = _linear_model(3, with_xp=False)
    hybrid = _linear_model(4)
    inputs = _inputs(12)
    g = mean_gradients([rvs], {"spectrum": inputs["spectrum"][:, :, None]})  # (k, 2401, 1) too
    assert g.xp is None and g.n_models_xp == 0
    np.testing.assert_allclose(g.spectrum, rvs.get_layer("w_spec").kernel.numpy().T, rtol=1e-5)
    mixed = mean_gradients([rvs, hybrid], inputs)
    # XP gradients average over the models that have XP only; spectra over all
    np.testing.assert_allclose(mixed.xp, hybrid.get_layer("w_xp").kernel.numpy().T, rtol=1e-5)
    assert mixed.n_models_xp == 1 and mixed.n_models == 2
    with pytest.raises(KeyError):
        mean_gradients([hybrid], {"spectrum": inputs["spectrum"]})


def test_nonlinear_model_matches_finite_differences():
    keras.utils.set_random_seed(7)
    spec = keras.Input((N_PIXELS, 1), name="spectrum")
    h = keras.layers.Conv1D(4, 8, activation="tanh")(spec)
    h = keras.layers.AveragePooling1D(4)(h)  # smooth: no argmax flips
    out = keras.layers.Dense(5, activation="sigmoid")(
        keras.layers.Dense(8, activation="tanh")(keras.layers.Flatten()(h))
    )
    model = keras.Model(spec, out)
    x = _inputs(20, seed=3)["spectrum"]
    g = mean_gradients([model], {"spectrum": x}, batch_size=7)
    eps = 0.01
    for pix in (100, 1200, 2300):
        xp_, xm = x.copy(), x.copy()
        xp_[:, pix] += eps
        xm[:, pix] -= eps
        fd = model.predict(xp_[:, :, None], verbose=0) - model.predict(xm[:, :, None], verbose=0)
        fd = fd.astype(np.float64).mean(axis=0) / (2 * eps)
        np.testing.assert_allclose(g.spectrum[:, pix], fd, rtol=0.05, atol=2e-5)


def test_plot_gradients_writes_png(tmp_path):
    rng = np.random.default_rng(0)
    g = Gradients(
        spectrum=rng.normal(size=(5, N_PIXELS)),
        xp=rng.normal(size=(5, N_XP)),
        n_stars=10,
        n_models=2,
        n_models_xp=2,
    )
    wl = np.linspace(846.0, 870.0, N_PIXELS)
    path = plot_gradients(g, wl, tmp_path / "sub" / "grad.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    import matplotlib.image

    img = matplotlib.image.imread(path)
    assert img.ndim == 3 and img.shape[0] > img.shape[1] / 3
    # RVS-only: no XP panel, a shorter figure
    g.xp = None
    img2 = matplotlib.image.imread(plot_gradients(g, wl, tmp_path / "rvs.png"))
    assert img2.shape[0] < img.shape[0]


def test_air_to_vacuum_at_the_calcium_triplet():
    # RVS spectra are on a vacuum grid: the paper's 8498/8542/8662 Å sit ~2.3 Å redder
    np.testing.assert_allclose(
        air_to_vacuum([8498.02, 8542.09, 8662.14]), [8500.35, 8544.44, 8664.52], atol=0.05
    )
