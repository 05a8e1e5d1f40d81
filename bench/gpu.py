"""Training and inference speed of the hybrid CNN on an accelerator (a script, not a test).

    KERAS_BACKEND=jax python3 bench/gpu.py [--members 28] [--epochs 3] [--out DIR]

The device machines lent to this project have JAX and PyTorch with CUDA but no TensorFlow, so
this runs the same network (:func:`labeling.model.build_model`) on Keras 3's JAX (or torch)
backend, on random inputs of the paper's shapes:

* training (Sect. 3.2: ~8 min per member, ~80 epochs, on an Apple M1): 33 585 training and
  11 195 validation spectra (75/25 of the paper's 44 780), ``--epochs`` epochs of which the
  first (compilation) is dropped, the median of the rest, at batch 64 (what a member trains
  with, ``EnsembleConfig.batch_size``) and larger batches for reference; in-memory arrays and
  :class:`labeling.ensemble.StarBatches` (batches assembled in Python, as members train);
* inference: one member, and the ``--members`` ensemble through the shipped
  :class:`labeling.ensemble.CompiledEnsemble` with ``backend="fused"`` (the members side by
  side in one Keras model; what a worker runs with ``RVS_INFERENCE_BACKEND=fused``, and what
  "auto" picks where Keras sees a GPU), at batch 1024 and 8192, ms per star per member and
  stars/s; the FLOP bound from :func:`labeling.model.flops_per_star` over a float32 8192²
  matmul on the same device in the same run, at full float32 and at the backend's default
  precision (TF32 tensor cores on Hopper); every output is compared with the CPU path (ONNX
  Runtime on :func:`labeling.ensemble.ensemble_to_onnx`), which itself equals Keras on
  TensorFlow to 1e-5 (tests/labeling/test_ensemble.py).

Figures go to stdout and to ``--out``/gpu.json. docs/benchmarks.md has the results.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PAPER_TRAIN, PAPER_VAL = 33_585, 11_195


def median_time(f: Callable[[], object], reps: int) -> float:
    """Median wall time of ``f`` (which must return host data, so the device is synced)."""
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def matmul_tflops(keras, precision: str, n: int = 8192, reps: int = 10) -> float:
    """float32 n×n matmul rate at ``precision`` ("highest" or "default"), TFLOP/s."""
    ops = keras.ops
    a = ops.convert_to_tensor(np.random.default_rng(0).random((n, n), np.float32))

    def run() -> float:
        with matmul_precision(keras, precision):
            return float(ops.sum(ops.matmul(a, a)))

    run()
    return 2 * n**3 / median_time(run, reps) / 1e12


def matmul_precision(keras, precision: str):
    """A context manager setting the float32 matmul/conv precision of the backend."""
    import contextlib

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return jax.default_matmul_precision("float32" if precision == "highest" else "default")
    if backend == "torch":
        import torch

        @contextlib.contextmanager
        def flags():
            old = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
            tf32 = precision != "highest"
            torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = tf32
            try:
                yield
            finally:
                torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old

        return flags()
    return contextlib.nullcontext()


def device_name(keras) -> str:
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return ", ".join(f"{d.platform}:{d.device_kind}" for d in jax.devices())
    if backend == "torch":
        import torch

        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    return "?"


def training(keras, args, out: dict) -> None:
    from train import RandomTraining

    n_tr = args.train_stars
    n_va = n_tr * PAPER_VAL // PAPER_TRAIN
    data = RandomTraining.make(n_tr, n_va)
    print(f"\ntraining: {n_tr} + {n_va} stars, {args.epochs} epochs (first dropped)")
    print(f"{'path':24s} {'batch':>5s} {'s/epoch':>8s} {'min @80':>8s} {'min @100':>8s}")
    rows = []
    for path, batch in (("StarBatches", 64), ("in-memory", 64), ("in-memory", 256)):
        times = data.epoch_times(path == "StarBatches", batch, args.epochs)
        s = statistics.median(times[1:])
        rows.append({"path": path, "batch": batch, "s_per_epoch": s, "first_epoch_s": times[0]})
        print(f"{path:24s} {batch:5d} {s:8.2f} {s * 80 / 60:8.2f} {s * 100 / 60:8.2f}", flush=True)
    out["training"] = rows


def inference(keras, args, out: dict) -> None:
    from labeling.ensemble import CompiledEnsemble, onnx_available
    from labeling.model import build_model, flops_per_star

    fl = flops_per_star()
    peak = {p: matmul_tflops(keras, p) for p in ("highest", "default")}
    out["matmul_tflops"] = peak
    print(
        f"\nfloat32 8192² matmul: {peak['highest']:.1f} TFLOP/s at full float32, "
        f"{peak['default']:.1f} at the default precision"
    )
    bound = {p: fl / (v * 1e12) * 1e3 for p, v in peak.items()}  # ms per star per member
    print(
        f"flops_per_star {fl / 1e6:.2f} MFLOP: bound {bound['highest'] * 1e3:.2f} µs "
        f"(float32), {bound['default'] * 1e3:.2f} µs (default) per star per member"
    )

    keras.utils.set_random_seed(0)
    m = args.members
    members = [build_model() for _ in range(m)]
    rng = np.random.default_rng(1)
    big = max(args.batches)
    x = {
        "spectrum": rng.random((big, 2401, 1), np.float32),
        "phot": rng.random((big, 4), np.float32),
        "xp": rng.random((big, 110), np.float32),
    }
    ref = None
    if onnx_available():
        cpu = CompiledEnsemble(members, backend="onnx")
        k = min(1024, big)
        xs = {name: v[:k] for name, v in x.items()}
        ref = cpu(xs)  # (M, k, 5)
        t = median_time(lambda: cpu(xs), 3)
        out["onnx_cpu"] = {"threads": os.cpu_count(), "ms_per_star_member": t / k / m * 1e3}
        print(
            f"ONNX Runtime CPU ({os.cpu_count()} cores), {m} members, batch {k}: "
            f"{t / k / m * 1e3:.4f} ms per star per member, {k / t:.0f} stars/s"
        )
    rows = []
    print(
        f"\n{'path':34s} {'precision':>9s} {'batch':>6s} {'µs/star/member':>15s} "
        f"{'x bound':>8s} {'stars/s':>10s} {'max |Δ| vs CPU':>15s}"
    )
    for precision in ("highest", "default"):
        for b in args.batches:
            xb = {k: v[:b] for k, v in x.items()}
            for name, n_models, f in (
                (
                    "one member, keras predict",
                    1,
                    lambda xb=xb, b=b: members[0].predict(xb, batch_size=b, verbose=0)[None],
                ),
                (  # the shipped path (RVS_INFERENCE_BACKEND=fused): it runs at full float32
                    # whatever the precision around it, so its "default" rows check just that
                    f"{m} members, CompiledEnsemble fused",
                    m,
                    partial(CompiledEnsemble(members, backend="fused", micro_batch=b), xb),
                ),
            ):
                with matmul_precision(keras, precision):
                    y = f()  # compile
                    t = median_time(f, args.reps)
                k = None if ref is None else min(b, ref.shape[1])
                diff = None if ref is None else float(np.abs(y[:, :k] - ref[:n_models, :k]).max())
                us = t / b / n_models * 1e6
                ratio = us / (bound[precision] * 1e3)
                rows.append(
                    {
                        "path": name,
                        "precision": precision,
                        "batch": b,
                        "us_per_star_member": us,
                        "x_bound": ratio,
                        "stars_per_s": b / t,
                        "max_abs_diff_vs_cpu": diff,
                    }
                )
                print(
                    f"{name:34s} {precision:>9s} {b:6d} {us:15.2f} {ratio:8.1f} "
                    f"{b / t:10.0f} {diff if diff is not None else float('nan'):15.2e}",
                    flush=True,
                )
    out["inference"] = rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=28)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--train-stars", type=int, default=PAPER_TRAIN)
    ap.add_argument("--batches", type=int, nargs="+", default=[1024, 8192])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--skip-training", action="store_true")
    ap.add_argument("--out", type=Path, default=ROOT / "var" / "bench")
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/train.py's RandomTraining
    import keras

    out = {
        "backend": keras.backend.backend(),
        "keras": keras.__version__,
        "device": device_name(keras),
    }
    print(f"keras {keras.__version__} on {out['backend']}: {out['device']}")
    if not args.skip_training:
        training(keras, args, out)
    inference(keras, args, out)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
