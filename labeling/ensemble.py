"""The deep ensemble of Guiglion et al. 2024, Sect. 3.2: 7 random 75/25 splits × 4 models.

Each member is an independent unit of work (:func:`train_member`, reproducible from its seed);
training streams batches from the spectrum source through a :class:`Preprocessing` object
(:class:`StarBatches`), so no member copies every spectrum. :func:`predict_ensemble` runs all
members on each preprocessed batch and returns the mean (the label) and the model-to-model
standard deviation (e_*, the internal precision) in physical units.

Inference runs through :class:`CompiledEnsemble`: all members in one ONNX Runtime session
(graph built from the weights) when onnxruntime is installed, else one XLA-compiled
``tf.function``; see bench/predict.py for the figures behind that choice.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import keras
import numpy as np

from .augment import NoiseAugmentation, degrade
from .config import EnsembleConfig
from .dataset import StarSet
from .model import build_model


class Preprocessing(Protocol):
    """What the ensemble needs from the preprocessing (labeling/preprocess.py, Sect. 2, 3.1)."""

    def inputs(self, stars: StarSet, indices: np.ndarray) -> dict[str, np.ndarray]:
        """Model inputs of the stars at ``indices``, float32 and scaled: "spectrum"
        (k, 2401, 1), "phot" (k, 4), "xp" (k, 110)."""
        ...

    def targets(self, labels: np.ndarray) -> np.ndarray:
        """(k, 5) physical labels → (k, 5) float32 scaled to [0, 1]."""
        ...

    def labels_from_scaled(self, y: np.ndarray) -> np.ndarray:
        """(..., 5) scaled network outputs → physical labels."""
        ...


def make_splits(n_stars: int, config: EnsembleConfig) -> list[tuple[np.ndarray, np.ndarray]]:
    """``config.n_splits`` random train/validation splits (Sect. 3.2), sorted index arrays.

    Split s is drawn from ``SeedSequence([config.seed, s])``, so it does not depend on
    n_splits and is reproducible.
    """
    n_val = int(round(n_stars * config.validation_fraction))
    if not 0 < n_val < n_stars:
        raise ValueError(f"cannot split {n_stars} stars with fraction {config.validation_fraction}")
    splits = []
    for s in range(config.n_splits):
        perm = np.random.default_rng(np.random.SeedSequence([config.seed, s])).permutation(n_stars)
        splits.append((np.sort(perm[n_val:]), np.sort(perm[:n_val])))
    return splits


def member_seed(config: EnsembleConfig, split: int, member: int) -> int:
    """The seed of member ``member`` of split ``split`` (weights init and batch order)."""
    return int(np.random.SeedSequence([config.seed, 1000 + split, member]).generate_state(1)[0])


class StarBatches(keras.utils.PyDataset):
    """Batches of (inputs, targets) for ``indices`` of ``stars``, read per batch (Sect. 3.2).

    Each batch calls ``prep.inputs(stars, batch_indices)`` (which reads only those spectra);
    indices inside a batch are sorted (store locality). With ``shuffle`` the order is a
    permutation drawn from (seed, epoch): identical reruns give identical batches.
    """

    def __init__(
        self,
        stars: StarSet,
        prep: Preprocessing,
        indices: np.ndarray,
        batch_size: int,
        *,
        input_names: Sequence[str] = ("spectrum", "phot", "xp"),
        shuffle: bool = False,
        seed: int = 0,
        with_targets: bool = True,
        workers: int = 1,
        augment: NoiseAugmentation | None = None,
    ) -> None:
        super().__init__(workers=workers, use_multiprocessing=False)
        if with_targets and stars.labels is None:
            raise ValueError("StarBatches with targets needs stars.labels")
        self.stars = stars
        self.prep = prep
        self.indices = np.asarray(indices, dtype=np.int64)
        self.batch_size = int(batch_size)
        self.input_names = tuple(input_names)
        self.shuffle = shuffle
        self.seed = seed
        self.with_targets = with_targets
        self.augment = augment
        self.epoch = 0
        self._order = self._order_for(0)

    def _order_for(self, epoch: int) -> np.ndarray:
        if not self.shuffle:
            return self.indices
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, epoch]))
        return self.indices[rng.permutation(self.indices.size)]

    def __len__(self) -> int:
        return -(-self.indices.size // self.batch_size)

    def batch_indices(self, i: int) -> np.ndarray:
        if not 0 <= i < len(self):
            raise IndexError(i)
        return np.sort(self._order[i * self.batch_size : (i + 1) * self.batch_size])

    def __getitem__(self, i: int):
        idx = self.batch_indices(i)
        x = self.prep.inputs(self.stars, idx)
        x = {name: x[name] for name in self.input_names}
        if self.augment is not None and "spectrum" in x:
            rng = np.random.default_rng(np.random.SeedSequence([self.seed, self.epoch, i, 7]))
            snr = self.stars.snr[idx]
            target = self.augment.target_snr(snr, rng)
            x["spectrum"] = degrade(x["spectrum"][..., 0], snr, target, rng)[..., None]
        if not self.with_targets:
            return (x,)
        return x, np.asarray(self.prep.targets(self.stars.labels[idx]), dtype=np.float32)

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self._order = self._order_for(self.epoch)


def _input_names(model: keras.Model) -> tuple[str, ...]:
    return tuple(t.name.split(":")[0] for t in model.inputs)


@dataclass
class MemberResult:
    """The outcome of :func:`train_member`."""

    path: Path
    member_seed: int
    history: dict[str, list[float]]
    best_val_loss: float
    best_epoch: int  # 1-based
    epochs_run: int
    seconds: float
    n_train: int
    n_val: int

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["path"] = str(self.path)
        return d


def train_member(
    stars: StarSet,
    prep: Preprocessing,
    split: tuple[np.ndarray, np.ndarray],
    member_seed: int,
    config: EnsembleConfig,
    out_path: str | os.PathLike,
) -> MemberResult:
    """Train one ensemble member on ``split`` = (train_idx, val_idx) and save it (Sect. 3.2).

    Early stopping on val_loss with ``config.patience`` (best weights restored) and
    ReduceLROnPlateau. The model is written atomically as a .keras file at ``out_path``.
    """
    import tensorflow as tf

    out_path = Path(out_path)
    if out_path.suffix != ".keras":
        raise ValueError(f"out_path must end in .keras, got {out_path}")
    t0 = time.perf_counter()
    keras.utils.set_random_seed(member_seed)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    model = build_model(config.inputs, config.model)
    names = _input_names(model)
    train_idx, val_idx = (np.asarray(a) for a in split)
    common = {"input_names": names, "workers": config.workers}
    augment = (
        None
        if config.augment_min_snr is None
        else NoiseAugmentation(config.augment_min_snr, config.augment_fraction)
    )
    train = StarBatches(
        stars,
        prep,
        train_idx,
        config.batch_size,
        shuffle=True,
        seed=member_seed,
        augment=augment,
        **common,
    )
    val = StarBatches(stars, prep, val_idx, config.val_batch_size, **common)
    callbacks = [
        keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=config.patience, restore_best_weights=True
        ),
        keras.callbacks.ReduceLROnPlateau(
            monitor="val_loss",
            factor=config.lr_factor,
            patience=config.lr_patience,
            min_lr=config.min_lr,
        ),
    ]
    hist = model.fit(
        train,
        validation_data=val,
        epochs=config.epochs,
        callbacks=callbacks,
        shuffle=False,
        verbose=config.verbose,
    )
    history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
    val_loss = np.asarray(history["val_loss"])
    if not np.isfinite(val_loss).any():
        raise FloatingPointError(f"{out_path.name}: validation loss not finite at any epoch")
    best = int(np.nanargmin(val_loss))  # EarlyStopping never counts a NaN epoch as the best
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".keras", dir=out_path.parent)
    os.close(fd)
    try:
        model.save(tmp)
        os.replace(tmp, out_path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return MemberResult(
        path=out_path,
        member_seed=member_seed,
        history=history,
        best_val_loss=float(val_loss[best]),
        best_epoch=best + 1,
        epochs_run=len(val_loss),
        seconds=time.perf_counter() - t0,
        n_train=int(train_idx.size),
        n_val=int(val_idx.size),
    )


def load_member(path: str | os.PathLike) -> keras.Model:
    """A saved member, without its optimiser state (inference only)."""
    return keras.saving.load_model(path, compile=False)


def onnx_available() -> bool:
    """Whether ONNX Runtime (and ``onnx``, to build the graph) can be imported."""
    import importlib.util

    return all(importlib.util.find_spec(n) is not None for n in ("onnx", "onnxruntime"))


def accelerator_available() -> bool:
    """Whether Keras's backend (JAX, TensorFlow or torch) sees a GPU or another accelerator."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return jax.default_backend() != "cpu"
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    if backend == "torch":
        import torch

        return bool(torch.cuda.is_available())
    return False


def _full_float32() -> Callable[[], contextlib.AbstractContextManager]:
    """Matmuls and convolutions at full float32 on the Keras backend's device: TF32 tensor
    cores (JAX's default on Hopper) move the labels by ~1e-3 of their ranges (bench/gpu.py),
    far from the 1e-5 agreement with the CPU path. Returns the context to run inside."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return lambda: jax.default_matmul_precision("highest")
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_tensor_float_32_execution(False)
    elif backend == "torch":
        import torch

        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    return contextlib.nullcontext


#: stars per call of each backend, the fastest measured by bench/predict.py (docs/benchmarks.md):
#: ONNX Runtime's conv kernels run best on small chunks (16-64 alike, 256 ×1.4 slower on an
#: AVX-512 Xeon), TensorFlow's graph on large ones; the fused model on an H200 at 8 192
#: (bench/gpu.py: 3.07 µs per star and member, 3.33 at 1 024)
MICRO_BATCH = {"onnx": 64, "xla": 256, "graph": 1024, "fused": 8192}
BACKENDS = ("auto", *MICRO_BATCH)


class CompiledEnsemble:
    """All members compiled into one function: the shipped inference path (Sect. 3.2 speed).

    ``__call__(inputs)`` → (M, k, 5) scaled outputs for any k, computed in chunks of
    ``micro_batch`` stars (small enough for the conv activations to stay in cache; default
    per backend, :data:`MICRO_BATCH`).
    Backends: "onnx" — one ONNX Runtime session over a graph built from the weights
    (:func:`ensemble_to_onnx`, NCHWc conv kernels; fastest on a CPU, see bench/predict.py);
    "xla" — a ``tf.function(jit_compile=True)`` at a fixed chunk size (the last chunk is
    zero-padded, so it is compiled once); "graph" — the same without XLA; "fused" — the members
    side by side in one Keras model, run by whichever Keras backend is installed (JAX on a GPU:
    bench/gpu.py), chunks padded to a power of two so that few shapes are compiled; "auto" —
    "fused" when Keras sees an accelerator, else "onnx" when onnxruntime is installed, else
    "xla". ``threads``: intra-op threads of the ONNX session (None: its default, one per
    physical core).
    """

    def __init__(
        self,
        models: Sequence[keras.Model],
        micro_batch: int | None = None,
        *,
        backend: str = "auto",
        threads: int | None = None,
    ) -> None:
        if not models:
            raise ValueError("no models")
        if backend == "auto":
            gpu, onnx = accelerator_available(), onnx_available()
            backend = "fused" if gpu else "onnx" if onnx else "xla"
        if backend not in MICRO_BATCH:
            raise ValueError(f"unknown backend {backend!r}: one of {', '.join(BACKENDS)}")
        models = list(models)
        self.backend = backend
        self.micro_batch = int(micro_batch or MICRO_BATCH[backend])
        self.input_names = _input_names(models[0])
        for m in models[1:]:
            if _input_names(m) != self.input_names:
                raise ValueError("members with different inputs")
        self.n_outputs = int(models[0].outputs[0].shape[-1])
        self.n_members = len(models)
        # the ONNX session holds the weights: the Keras members (and their TensorFlow state)
        # are not kept beside it in a labelling worker
        if backend == "onnx":
            self._run = self._onnx_runner(models, threads)
        elif backend == "fused":
            self._run = self._fused_runner(models)
        else:
            self._run = self._tf_runner(models, jit_compile=backend == "xla")

    def _fused_runner(
        self, models: list[keras.Model]
    ) -> Callable[[dict[str, np.ndarray]], np.ndarray]:
        inputs = {
            n: keras.Input(t.shape[1:], name=n)
            for n, t in zip(self.input_names, models[0].inputs, strict=True)
        }
        # each member seen through a model of its own name (sharing its layers), since a
        # model's nested models need distinct names and members loaded from disk may share one
        views = [
            keras.Model(m.inputs, m.outputs[0], name=f"member_{i}") for i, m in enumerate(models)
        ]
        fused = keras.Model(inputs, keras.ops.stack([v(inputs) for v in views], axis=0))
        precision = _full_float32()

        def call(x: dict[str, np.ndarray]) -> np.ndarray:
            k = len(next(iter(x.values())))
            b = min(1 << max(k - 1, 0).bit_length(), self.micro_batch)
            if k < b:
                x = {
                    n: np.concatenate([v, np.zeros((b - k, *v.shape[1:]), np.float32)])
                    for n, v in x.items()
                }
            with precision():
                return np.asarray(fused.predict_on_batch(x))[:, :k]

        return call

    def _onnx_runner(
        self, models: list[keras.Model], threads: int | None
    ) -> Callable[[dict[str, np.ndarray]], np.ndarray]:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.inter_op_num_threads = 1
        if threads:
            so.intra_op_num_threads = int(threads)
        session = ort.InferenceSession(
            ensemble_to_onnx(models), so, providers=["CPUExecutionProvider"]
        )
        return lambda x: session.run(None, x)[0]

    def _tf_runner(
        self, models: list[keras.Model], jit_compile: bool
    ) -> Callable[[dict[str, np.ndarray]], np.ndarray]:
        import tensorflow as tf

        b = self.micro_batch
        specs = {
            n: tf.TensorSpec((b, *t.shape[1:]), tf.float32)
            for n, t in zip(self.input_names, models[0].inputs, strict=True)
        }
        members = models

        @tf.function(jit_compile=jit_compile, input_signature=[specs])
        def run(x):
            return tf.stack([m(x, training=False) for m in members])

        def call(x: dict[str, np.ndarray]) -> np.ndarray:
            k = len(next(iter(x.values())))
            if k < b:
                x = {
                    n: np.concatenate([v, np.zeros((b - k, *v.shape[1:]), np.float32)])
                    for n, v in x.items()
                }
            return run(x).numpy()[:, :k]

        return call

    def __call__(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        x = {n: np.ascontiguousarray(inputs[n], dtype=np.float32) for n in self.input_names}
        k = len(next(iter(x.values())))
        out = np.empty((self.n_members, k, self.n_outputs), np.float32)
        b = self.micro_batch
        for start in range(0, k, b):
            chunk = {n: v[start : start + b] for n, v in x.items()}
            out[:, start : start + b] = self._run(chunk)
        return out


_ONNX_ACT = {"relu": "Relu", "leaky_relu": "LeakyRelu", "linear": None}


def ensemble_to_onnx(models: Sequence[keras.Model], *, conv2d: bool = True) -> bytes:
    """One ONNX graph (opset 17) computing all members: inputs as the Keras models, output
    "labels" (M, batch, 5) scaled. Built from the weights, channels-first so that no large
    transpose is needed (the flatten order is folded into the first dense kernel); with
    ``conv2d`` the convolutions are 2-D with height 1, which lets ONNX Runtime use its
    blocked NCHWc kernels. Needs the ``onnx`` package.
    """
    from onnx import TensorProto, helper, numpy_helper

    g = _OnnxGraph(conv2d)
    names = _input_names(models[0])
    n_pix = int(models[0].get_layer("conv1").input.shape[1])
    shape = [1, 1, n_pix] if not conv2d else [1, 1, 1, n_pix]
    g.nodes.append(helper.make_node("Reshape", ["spectrum", "spec_shape"], ["spec_ncw"]))
    g.inits.append(numpy_helper.from_array(np.array([-1, *shape[1:]], np.int64), "spec_shape"))
    outs = [g.member(m, f"m{i}_", "phot" in names) for i, m in enumerate(models)]
    g.inits.append(numpy_helper.from_array(np.array([0], np.int64), "axis0"))
    g.nodes.append(helper.make_node("Concat", outs, ["labels"], axis=0))
    inputs = [
        helper.make_tensor_value_info(
            n, TensorProto.FLOAT, ["batch", *[int(d) for d in t.shape[1:]]]
        )
        for n, t in zip(names, models[0].inputs, strict=True)
    ]
    graph = helper.make_graph(
        g.nodes,
        "rvs_cnn_ensemble",
        inputs,
        [helper.make_tensor_value_info("labels", TensorProto.FLOAT, [len(models), "batch", 5])],
        initializer=g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


class _OnnxGraph:
    """The nodes and weights of :func:`ensemble_to_onnx`'s graph, member by member."""

    def __init__(self, conv2d: bool) -> None:
        self.conv2d = conv2d
        self.nodes: list = []
        self.inits: list = []

    def const(self, name: str, a: np.ndarray) -> str:
        from onnx import numpy_helper

        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(a, dtype=np.float32), name))
        return name

    def act(self, x: str, kind: str | None, name: str, alpha: float = 0.0) -> str:
        from onnx import helper

        if kind is None:
            return x
        attrs = {"alpha": float(alpha)} if kind == "LeakyRelu" else {}
        self.nodes.append(helper.make_node(kind, [x], [name], **attrs))
        return name

    def member(self, m: keras.Model, p: str, hybrid: bool) -> str:
        """One member: its convolutions, dense branches and head; the name of its output."""
        from onnx import helper

        x = self.convolutions(m, p)
        # Keras flattens (W, C) position-major; ours is (C, W): permute the kernel rows
        last = m.get_layer("pool2").output.shape  # (None, W, C)
        n_w, n_c = int(last[1]), int(last[2])
        self.nodes.append(helper.make_node("Flatten", [x], [p + "flat"], axis=1))
        rows = np.arange(n_w * n_c).reshape(n_w, n_c).T.ravel()
        parts = [self.dense(m, p, p + "flat", "spectrum_dense", rows)]
        if hybrid:
            parts += [self.dense(m, p, "phot", "phot_dense"), self.dense(m, p, "xp", "xp_dense")]
            self.nodes.append(helper.make_node("Concat", parts, [p + "concat"], axis=1))
            x = p + "concat"
        else:
            x = parts[0]
        j = 1
        while True:
            try:
                m.get_layer(f"head{j}")
            except ValueError:
                break
            x = self.dense(m, p, x, f"head{j}")
            j += 1
        y = self.dense(m, p, x, "labels")
        self.nodes.append(helper.make_node("Unsqueeze", [y, "axis0"], [p + "out"]))
        return p + "out"

    def convolutions(self, m: keras.Model, p: str) -> str:
        """The three convolutions and two poolings of the spectrum branch, channels-first."""
        from onnx import helper

        x = "spec_ncw"
        for conv, pool in (("conv1", None), ("conv2", "pool1"), ("conv3", "pool2")):
            layer = m.get_layer(conv)
            kern, bias = (np.asarray(w) for w in layer.get_weights())  # (k, c_in, c_out)
            w = kern.transpose(2, 1, 0)  # (c_out, c_in, k)
            ks = [w.shape[-1]]
            if self.conv2d:
                w, ks = w[:, :, None, :], [1, ks[0]]
            self.nodes.append(
                helper.make_node(
                    "Conv",
                    [x, self.const(p + conv + "_w", w), self.const(p + conv + "_b", bias)],
                    [p + conv],
                    kernel_shape=ks,
                )
            )
            cfg = layer.get_config()["activation"]
            kind = _ONNX_ACT[cfg if isinstance(cfg, str) else cfg["config"]["name"]]
            x = self.act(p + conv, kind, p + conv + "_a", 0.2)
            if pool is not None:
                size = int(m.get_layer(pool).pool_size[0])
                ps = [size] if not self.conv2d else [1, size]
                self.nodes.append(
                    helper.make_node("MaxPool", [x], [p + pool], kernel_shape=ps, strides=ps)
                )
                x = p + pool
        return x

    def dense(
        self, m: keras.Model, p: str, x: str, lname: str, kern_rows: np.ndarray | None = None
    ) -> str:
        """A Dense layer as Gemm (rows of its kernel permuted by ``kern_rows``), and its
        LeakyReLU when it has one."""
        from onnx import helper

        layer = m.get_layer(lname)
        kern, bias = (np.asarray(w) for w in layer.get_weights())
        if kern_rows is not None:
            kern = kern[kern_rows]
        self.nodes.append(
            helper.make_node(
                "Gemm",
                [x, self.const(p + lname + "_w", kern), self.const(p + lname + "_b", bias)],
                [p + lname],
            )
        )
        try:
            slope = float(m.get_layer(lname + "_lrelu").negative_slope)
        except ValueError:
            return p + lname
        return self.act(p + lname, "LeakyRelu", p + lname + "_a", slope)


@dataclass
class EnsemblePrediction:
    """Ensemble output in physical units (Sect. 3.2): mean and model-to-model std (e_*)."""

    mean: np.ndarray  # (N, 5)
    std: np.ndarray  # (N, 5), ddof=0 over members
    members: np.ndarray | None = None  # (M, N, 5) when asked for


def predict_ensemble(
    models: Sequence[keras.Model] | CompiledEnsemble,
    stars: StarSet,
    prep: Preprocessing,
    batch_size: int = 1024,
    *,
    indices: np.ndarray | None = None,
    return_members: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> EnsemblePrediction:
    """Labels of ``stars`` (or of ``indices`` of them) by every member (Sect. 3.2).

    Streams over the stars in batches of ``batch_size``: each batch is preprocessed once and
    run through all members (:class:`CompiledEnsemble`, built here from ``models`` unless one
    is given); each member's output is turned into
    physical labels, then averaged; std (ddof=0) over members is e_*. Memory is flat in N
    apart from the (N, 5) outputs (and (M, N, 5) with ``return_members``).
    ``progress(done, total)`` is called after each batch.
    """
    ens = models if isinstance(models, CompiledEnsemble) else CompiledEnsemble(models)
    idx = np.arange(len(stars)) if indices is None else np.asarray(indices, dtype=np.int64)
    n, m = idx.size, ens.n_members
    mean = np.empty((n, 5), np.float64)
    std = np.empty((n, 5), np.float64)
    per = np.empty((m, n, 5), np.float32) if return_members else None
    step = int(batch_size)
    for start in range(0, n, step):
        sl = slice(start, start + step)
        x = prep.inputs(stars, idx[sl])
        y = np.asarray(prep.labels_from_scaled(ens(x)), dtype=np.float64)  # (M, k, 5)
        mean[sl] = y.mean(axis=0)
        std[sl] = y.std(axis=0)
        if per is not None:
            per[:, sl] = y
        if progress is not None:
            progress(min(start + step, n), n)
    return EnsemblePrediction(mean=mean, std=std, members=per)
