"""The hybrid CNN of Guiglion et al. 2024, Sect. 3.1 (and its RVS-only variant, Appendix B).

Three input nodes (Fig. 6):

* ``spectrum`` (2401, 1) → Conv1D(32, 8) → Conv1D(16, 8) → MaxPool → Conv1D(8, 8) → MaxPool
  → Flatten → Dense(128);
* ``phot`` (4,): G, G_BP, G_RP, parallax → Dense(32);
* ``xp`` (110,): 55 BP + 55 RP coefficients → Dense(64);

concatenated (128 + 32 + 64 = 224) → Dense(128) → Dense(32) → Dense(5), linear output in
:data:`labeling.labels.LABELS` order, on labels scaled to [0, 1].

Activations: the paper states LeakyReLU "for the fully connected layers" only; it does not
name the activation of the convolution blocks. We read that as the conv blocks *not* being
LeakyReLU and use ReLU there (the usual choice in the Nepal et al. 2023 lineage the paper
builds on); it is ``ModelConfig.conv_activation``, so "leaky_relu" is one setting away.
Padding is "valid" and pooling windows are 2 (Keras defaults; the paper gives neither), which
gives 4744 features after the last pool and ~25 MFLOP per star (:func:`flops_per_star`).

Loss and optimiser are not stated in the paper; we use Adam + mean squared error on the
[0, 1]-scaled labels, as in Guiglion et al. 2020 / Nepal et al. 2023.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import layers

from .config import INPUT_KINDS, Inputs, ModelConfig
from .labels import N_XP

N_PHOT = 4
PAPER_NETWORK = ModelConfig()


def _dense(x: Any, units: int, name: str, config: ModelConfig) -> Any:
    x = layers.Dense(units, name=name)(x)
    return layers.LeakyReLU(negative_slope=config.leaky_relu_slope, name=f"{name}_lrelu")(x)


def build_model(inputs: Inputs = "hybrid", config: ModelConfig = PAPER_NETWORK) -> keras.Model:
    """The compiled hybrid CNN (Sect. 3.1), or the RVS-only network with ``inputs="rvs_only"``.

    Named inputs: "spectrum" (2401, 1), and for the hybrid also "phot" (4,) and "xp" (110,).
    Output: (batch, 5) scaled labels. Compiled with Adam(config.learning_rate) and MSE.
    """
    if inputs not in INPUT_KINDS:
        raise ValueError(f"inputs must be one of {INPUT_KINDS}, got {inputs!r}")
    f1, f2, f3 = config.conv_filters
    k, act = config.kernel_size, config.conv_activation
    spectrum = keras.Input((config.n_pixels, 1), name="spectrum")
    x = layers.Conv1D(f1, k, activation=act, name="conv1")(spectrum)
    x = layers.Conv1D(f2, k, activation=act, name="conv2")(x)
    x = layers.MaxPooling1D(config.pool_size, name="pool1")(x)
    x = layers.Conv1D(f3, k, activation=act, name="conv3")(x)
    x = layers.MaxPooling1D(config.pool_size, name="pool2")(x)
    x = layers.Flatten(name="flatten")(x)
    x = _dense(x, config.spectrum_dense, "spectrum_dense", config)
    model_inputs = {"spectrum": spectrum}
    if inputs == "hybrid":
        phot = keras.Input((N_PHOT,), name="phot")
        xp = keras.Input((N_XP,), name="xp")
        p = _dense(phot, config.phot_dense, "phot_dense", config)
        q = _dense(xp, config.xp_dense, "xp_dense", config)
        # Sect. 3.1 writes "32 + 128 + 64 = 224"; the order does not change the function
        x = layers.Concatenate(name="concat")([x, p, q])
        model_inputs = {"spectrum": spectrum, "phot": phot, "xp": xp}
    for i, units in enumerate(config.head_dense, start=1):
        x = _dense(x, units, f"head{i}", config)
    out = layers.Dense(config.n_outputs, activation="linear", name="labels")(x)
    model = keras.Model(model_inputs, out, name=f"rvs_cnn_{inputs}")
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate), loss=config.loss)
    return model


def layer_shapes(config: ModelConfig = PAPER_NETWORK) -> dict[str, tuple[int, ...]]:
    """Per-star output shapes of the spectrum branch, computed without building the model."""
    k, p = config.kernel_size, config.pool_size
    f1, f2, f3 = config.conv_filters
    n1 = config.n_pixels - k + 1
    n2 = n1 - k + 1
    n2p = n2 // p
    n3 = n2p - k + 1
    n3p = n3 // p
    return {
        "conv1": (n1, f1),
        "conv2": (n2, f2),
        "pool1": (n2p, f2),
        "conv3": (n3, f3),
        "pool2": (n3p, f3),
        "flatten": (n3p * f3,),
    }


def flops_per_star(config: ModelConfig = PAPER_NETWORK, inputs: Inputs = "hybrid") -> int:
    """Floating-point operations of one forward pass for one star (Sect. 3.2 speed remark).

    A multiply-add counts as 2 FLOPs; bias additions and activations (one op per output) are
    included, pooling is not. conv2 dominates (~20 of ~25 MFLOP).
    """
    s = layer_shapes(config)
    k = config.kernel_size
    f1, f2, f3 = config.conv_filters
    total = 0
    for name, c_in in (("conv1", 1), ("conv2", f1), ("conv3", f2)):
        n, c_out = s[name]
        total += n * c_out * (2 * k * c_in + 2)  # MACs + bias + activation

    def dense(n_in: int, n_out: int, act: bool = True) -> int:
        return n_out * (2 * n_in + 1 + (1 if act else 0))

    total += dense(s["flatten"][0], config.spectrum_dense)
    width = config.spectrum_dense
    if inputs == "hybrid":
        total += dense(N_PHOT, config.phot_dense) + dense(N_XP, config.xp_dense)
        width += config.phot_dense + config.xp_dense
    for units in config.head_dense:
        total += dense(width, units)
        width = units
    total += dense(width, config.n_outputs, act=False)
    return total
