"""The hybrid CNN of Sect. 3.1 and its RVS-only variant (Appendix B)."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from labeling.model import ModelConfig, build_model, flops_per_star, layer_shapes  # noqa: E402


@pytest.fixture(scope="module")
def hybrid() -> keras.Model:
    return build_model("hybrid")


def _input_names(model: keras.Model) -> set[str]:
    return {t.name.split(":")[0] for t in model.inputs}


def test_hybrid_layers_follow_the_paper(hybrid):
    assert _input_names(hybrid) == {"spectrum", "phot", "xp"}
    shapes = {layer.name: tuple(layer.output.shape[1:]) for layer in hybrid.layers}
    assert shapes["spectrum"] == (2401, 1)
    assert shapes["phot"] == (4,)
    assert shapes["xp"] == (110,)
    assert [hybrid.get_layer(n).filters for n in ("conv1", "conv2", "conv3")] == [32, 16, 8]
    assert {hybrid.get_layer(n).kernel_size[0] for n in ("conv1", "conv2", "conv3")} == {8}
    for name, shape in layer_shapes().items():
        assert shapes[name] == shape
    assert shapes["spectrum_dense"] == (128,)
    assert shapes["phot_dense"] == (32,)
    assert shapes["xp_dense"] == (64,)
    assert shapes["concat"] == (224,)
    assert shapes["head1"] == (128,)
    assert shapes["head2"] == (32,)
    assert shapes["labels"] == (5,)
    assert hybrid.get_layer("labels").get_config()["activation"] == "linear"
    # LeakyReLU after every hidden dense layer (Sect. 3.1)
    for name in ("spectrum_dense", "phot_dense", "xp_dense", "head1", "head2"):
        assert isinstance(hybrid.get_layer(f"{name}_lrelu"), keras.layers.LeakyReLU)
    # pooling after conv blocks two and three only
    pools = [layer.name for layer in hybrid.layers if "Pooling" in type(layer).__name__]
    assert pools == ["pool1", "pool2"]
    assert hybrid.count_params() == 653_149


def test_hybrid_predicts_five_outputs(hybrid):
    rng = np.random.default_rng(0)
    x = {
        "spectrum": rng.random((3, 2401, 1), np.float32),
        "phot": rng.random((3, 4), np.float32),
        "xp": rng.random((3, 110), np.float32),
    }
    assert hybrid.predict(x, verbose=0).shape == (3, 5)
    assert isinstance(hybrid.optimizer, keras.optimizers.Adam)


def test_rvs_only_has_no_phot_or_xp():
    model = build_model("rvs_only")
    assert _input_names(model) == {"spectrum"}
    names = {layer.name for layer in model.layers}
    assert not names & {"phot_dense", "xp_dense", "concat"}
    assert tuple(model.get_layer("head1").input.shape[1:]) == (128,)
    assert tuple(model.output.shape[1:]) == (5,)
    x = np.random.default_rng(1).random((2, 2401, 1), np.float32)
    assert model.predict({"spectrum": x}, verbose=0).shape == (2, 5)


def test_unknown_inputs_refused():
    with pytest.raises(ValueError, match="inputs"):
        build_model("xp_only")


def test_flops_per_star_matches_the_layers(hybrid):
    fl = flops_per_star()
    assert 24e6 < fl < 26e6  # ~25 MFLOP, conv2 dominates
    # independent count: 2 FLOPs per multiply-add, from the built layers
    macs = 0
    for layer in hybrid.layers:
        if isinstance(layer, keras.layers.Conv1D):
            macs += layer.output.shape[1] * int(np.prod(layer.kernel.shape))
        elif isinstance(layer, keras.layers.Dense):
            macs += int(np.prod(layer.kernel.shape))
    assert 0 <= fl - 2 * macs < 0.02 * fl  # + bias and activation, one op per output
    conv2 = hybrid.get_layer("conv2")
    assert 2 * conv2.output.shape[1] * np.prod(conv2.kernel.shape) / fl > 0.75
    assert flops_per_star(inputs="rvs_only") < fl


def test_model_config_round_trip():
    cfg = ModelConfig(learning_rate=5e-4, conv_activation="leaky_relu")
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    model = build_model("rvs_only", cfg)
    assert model.get_layer("conv1").get_config()["activation"] == "leaky_relu"
