"""Mean gradients of the CNN labels with respect to its inputs (Sect. 3.5, Figs. 9 and 10).

Guiglion et al. 2024, Sect. 3.5: ∂label/∂pixel averaged over a group of stars (e.g. red-clump
stars at [M/H] ≈ 0 and ≈ −0.8) shows which RVS features each label is learnt from; the same for
the 110 XP coefficients. Gradients are of the model's raw outputs (labels scaled to [0, 1]) with
respect to its raw inputs (preprocessed flux; scaled XP coefficients): per-unit-input changes of
the scaled label, comparable between pixels and between labels only up to each label's scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .labels import DISPLAY, LABELS, N_XP
from .wavelength import air_to_vacuum

#: The features named in Sect. 3.5.1, air wavelengths (Å): (name, centre, half-width; 0 = line)
FEATURES_AIR_A: tuple[tuple[str, float, float], ...] = (
    ("Ca II", 8498.0, 0.0),
    ("Ca II", 8542.1, 0.0),
    ("Ca II", 8662.1, 0.0),
    ("Fe I+Ti I", 8538.0, 2.0),  # blue wing of Ca II 8542
    ("Cr II", 8550.8, 0.0),
    ("Fe I", 8519.0, 5.0),  # Fe I / Fe I+Ti I blends near 8520
    ("Si I+V II+N", 8649.5, 2.0),
    ("Fe I", 8674.7, 2.0),  # red wing of Ca II 8662
)


@dataclass
class Gradients:
    """Mean ∂label/∂input: ``spectrum`` (5, n_pixels), ``xp`` (5, 110) or None (RVS-only).

    Averaged over ``n_stars`` stars and over the ensemble members that have the input
    (``n_models_xp`` of ``n_models`` for XP). Rows in :data:`LABELS` order; raw (scaled) units.
    """

    spectrum: np.ndarray
    xp: np.ndarray | None
    n_stars: int
    n_models: int
    n_models_xp: int


def _input_names(model) -> list[str]:
    return [str(t.name).split(":")[0] for t in model.inputs]


def _shape_for(model, name: str, x: np.ndarray) -> np.ndarray:
    """``x`` reshaped to the rank the model's input ``name`` expects ((k, n) ↔ (k, n, 1))."""
    for t in model.inputs:
        if str(t.name).split(":")[0] == name:
            rank = len(t.shape)
            if rank == 3 and x.ndim == 2:
                return x[:, :, None]
            if rank == 2 and x.ndim == 3 and x.shape[2] == 1:
                return x[:, :, 0]
            return x
    raise KeyError(name)


def mean_gradients(models: list, inputs: dict[str, np.ndarray], batch_size: int = 256) -> Gradients:
    """Mean ∂output/∂input over the stars in ``inputs`` and over ``models`` (Sect. 3.5).

    ``inputs``: "spectrum" (k, 2401) or (k, 2401, 1), and optionally "phot" (k, 4) and
    "xp" (k, 110), preprocessed as the models expect; each model gets only the inputs it names
    (RVS-only models have no "phot"/"xp"). Models are called with ``training=False`` and must
    return one (k, 5) tensor. Stars are independent in the network, so the gradient of the
    batch sum of one output is the per-star gradients' sum: 5 backward passes per batch.
    """
    import tensorflow as tf

    if not models:
        raise ValueError("no models")
    spec = np.asarray(inputs["spectrum"], dtype=np.float32)
    k = len(spec)
    n_pix = spec.shape[1]
    n_out = None
    g_spec = np.zeros((0, n_pix))
    g_xp: np.ndarray | None = None
    n_xp_models = 0
    for model in models:
        names = _input_names(model)
        missing = [nm for nm in names if nm not in inputs]
        if missing:
            raise KeyError(f"model input(s) {missing} not in inputs {sorted(inputs)}")
        has_xp = "xp" in names
        n_xp_models += has_xp
        for a in range(0, k, batch_size):
            b = min(a + batch_size, k)
            feed = {
                nm: tf.convert_to_tensor(
                    _shape_for(model, nm, np.asarray(inputs[nm][a:b], dtype=np.float32))
                )
                for nm in names
            }
            watched = [feed["spectrum"]] + ([feed["xp"]] if has_xp else [])
            with tf.GradientTape(persistent=True) as tape:
                for t in watched:
                    tape.watch(t)
                # a single-input model takes the tensor itself (a dict draws a warning)
                out = model(feed if len(feed) > 1 else feed[names[0]], training=False)
                if isinstance(out, dict | list | tuple):
                    raise TypeError("the model must return a single (k, n_labels) tensor")
                sums = tf.reduce_sum(out, axis=0)  # (n_labels,)
                per_label = [sums[j] for j in range(int(out.shape[-1]))]
            if n_out is None:
                n_out = len(per_label)
                g_spec = np.zeros((n_out, n_pix))
                if g_xp is None:
                    g_xp = np.zeros((n_out, N_XP))
            for j, s in enumerate(per_label):
                grads = tape.gradient(s, watched)
                g_spec[j] += grads[0].numpy().reshape(b - a, n_pix).sum(axis=0)
                if has_xp:
                    g_xp[j] += grads[1].numpy().reshape(b - a, -1).sum(axis=0)
            del tape
    n_models = len(models)
    return Gradients(
        spectrum=g_spec / (k * n_models),
        xp=None if n_xp_models == 0 else g_xp / (k * n_xp_models),
        n_stars=k,
        n_models=n_models,
        n_models_xp=n_xp_models,
    )


def plot_gradients(
    grad: Gradients,
    wavelength_nm: np.ndarray,
    path: str | Path,
    vacuum: bool = True,
    title: str | None = None,
) -> Path:
    """PNG of the mean gradients: one panel per label vs wavelength (nm) with the features of
    Sect. 3.5.1 marked (at vacuum wavelengths when ``vacuum``), and one for the XP coefficients
    (BP 0-54, RP 55-109), like Figs. 9 and 10."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    wl = np.asarray(wavelength_nm, dtype=np.float64)
    n_lab = grad.spectrum.shape[0]
    names = [DISPLAY.get(nm, nm) for nm in LABELS[:n_lab]]
    n_panels = n_lab + (grad.xp is not None)
    fig, axes = plt.subplots(n_panels, 1, figsize=(11, 1.9 * n_panels + 0.6), squeeze=False)
    axes = axes[:, 0]
    feat = [(name, float(air_to_vacuum(c)) if vacuum else c, hw) for name, c, hw in FEATURES_AIR_A]
    for j in range(n_lab):
        ax = axes[j]
        for name, c, hw in feat:
            if hw == 0:
                ax.axvline(c / 10, color="0.6" if name == "Ca II" else "tab:red", lw=0.7, ls=":")
            else:
                ax.axvspan((c - hw) / 10, (c + hw) / 10, color="tab:orange", alpha=0.15, lw=0)
        ax.plot(wl, grad.spectrum[j], lw=0.7, color="k")
        ax.axhline(0, color="0.8", lw=0.5)
        ax.set_ylabel(f"∂{names[j]}/∂flux", fontsize=8)
        ax.set_xlim(wl[0], wl[-1])
        ax.tick_params(labelsize=7)
        if j == 0:
            for name, c, _ in feat:
                ax.annotate(
                    name,
                    (c / 10, 1.02),
                    xycoords=("data", "axes fraction"),
                    fontsize=6,
                    rotation=60,
                    va="bottom",
                    ha="left",
                )
    axes[n_lab - 1].set_xlabel("wavelength (nm, vacuum)" if vacuum else "wavelength (nm, air)")
    if grad.xp is not None:
        ax = axes[-1]
        idx = np.arange(grad.xp.shape[1])
        for j in range(n_lab):
            ax.plot(idx, grad.xp[j], lw=0.8, label=names[j])
        ax.axvline(N_XP / 2 - 0.5, color="0.6", lw=0.7, ls="--")
        ax.set_xlabel("XP coefficient (BP 0-54 | RP 55-109)")
        ax.set_ylabel("∂label/∂XP", fontsize=8)
        ax.legend(fontsize=6, ncol=n_lab, loc="upper right")
        ax.tick_params(labelsize=7)
    fig.suptitle(
        title or f"Mean CNN gradients ({grad.n_stars} stars, {grad.n_models} models)", fontsize=9
    )
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


__all__ = [
    "FEATURES_AIR_A",
    "Gradients",
    "mean_gradients",
    "plot_gradients",
]
