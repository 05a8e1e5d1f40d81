"""Inference speed of the hybrid CNN (Guiglion et al. 2024, Sect. 3.2: ~0.3 ms per star per
model on an Apple M1) against the FLOP bound of this machine (a script, not a test).

On random inputs of the paper's shapes, times one member at ``--batch`` stars per call and a
``--members``-member ensemble, for (a) Keras ``predict``, (b) a ``tf.function`` with
``jit_compile=True`` (XLA) and without, (c) ONNX Runtime, from the tf2onnx export
(``model.export(format="onnx")``) and from :func:`labeling.ensemble.ensemble_to_onnx` (the
shipped path), each at one call per batch and in micro-batches. The FLOP bound is
``flops_per_star`` divided by the GFLOP/s of a float32 2048² matmul on the same threads,
measured in the same run. Repetitions are interleaved across paths (so load from other
processes hits every path alike); medians are printed. Every path's outputs are checked
against Keras (max |Δ| ≤ 1e-5)::

    TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python bench/predict.py                # 2 threads
    TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python bench/predict.py --reps 7 --members 28
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from timing import interleaved_medians  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, default=1024, help="stars per call (default 1024)")
    ap.add_argument("--micro", type=int, default=64, help="micro-batch of the compiled paths")
    ap.add_argument("--members", type=int, default=28)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--ensemble-reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-tf2onnx", action="store_true", help="skip the tf2onnx export path")
    args = ap.parse_args()

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras

    from labeling.ensemble import MICRO_BATCH, CompiledEnsemble, onnx_available
    from labeling.model import build_model, flops_per_star

    keras.utils.set_random_seed(0)
    b, threads = args.batch, args.threads
    rng = np.random.default_rng(0)
    x = {
        "spectrum": rng.random((b, 2401, 1), np.float32),
        "phot": rng.random((b, 4), np.float32),
        "xp": rng.random((b, 110), np.float32),
    }
    model = build_model()
    ref = model.predict(x, batch_size=b, verbose=0)
    fl = flops_per_star()
    a = tf.random.normal((2048, 2048))

    paths: dict[str, Callable[[], np.ndarray]] = {
        "keras predict": lambda: model.predict(x, batch_size=b, verbose=0),
    }
    for micro in sorted({b, args.micro}, reverse=True):
        for backend in ("graph", "xla"):
            ens = CompiledEnsemble([model], micro, backend=backend)
            paths[f"tf.function {backend} (chunks of {micro})"] = lambda e=ens: e(x)[0]
    versions = {
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
    }
    if onnx_available():
        import onnx
        import onnxruntime as ort

        versions |= {"onnxruntime": ort.__version__, "onnx": onnx.__version__}
        if not args.no_tf2onnx:
            try:
                import tf2onnx

                versions["tf2onnx"] = tf2onnx.__version__
                tmp = Path(tempfile.mkdtemp()) / "member.onnx"
                model.export(str(tmp), format="onnx", verbose=False)
                so = ort.SessionOptions()
                so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
                sess = ort.InferenceSession(str(tmp), so, providers=["CPUExecutionProvider"])
                paths[f"onnxruntime tf2onnx export (batch {b})"] = lambda: sess.run(None, x)[0]
            except Exception as exc:  # report and go on
                print(f"tf2onnx export failed: {exc!r}")
        for micro in sorted({b, args.micro}, reverse=True):
            ens = CompiledEnsemble([model], micro, backend="onnx", threads=threads)
            paths[f"onnxruntime ensemble_to_onnx (chunks of {micro})"] = lambda e=ens: e(x)[0]
    else:
        print("onnxruntime/onnx not installed: ONNX paths skipped")
    paths["matmul 2048^2 (FLOP bound)"] = lambda: tf.linalg.matmul(a, a).numpy()

    for name, f in paths.items():  # warm up (traces, compiles) and check
        y = f()
        if not name.startswith("matmul"):
            diff = float(np.abs(y - ref).max())
            flag = "ok" if diff <= 1e-5 else "MISMATCH"
            print(f"{name:45s} max |Δ| vs keras = {diff:.2e} {flag}")
    med = interleaved_medians(paths, args.reps)
    gflops = 2 * 2048**3 / med.pop("matmul 2048^2 (FLOP bound)") / 1e9
    bound = fl / (gflops * 1e9) * 1e3
    print(f"\nload average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; {threads} threads")
    print(", ".join(f"{k} {v}" for k, v in versions.items()))
    print(f"flops_per_star = {fl / 1e6:.2f} MFLOP; matmul {gflops:.1f} GFLOP/s")
    print(f"FLOP bound: {bound:.3f} ms per star per member\n")
    print(f"one member, {b} stars per call, median of {args.reps}:")
    print(f"{'path':45s} {'ms/star/member':>15s} {'x bound':>8s} {'GFLOP/s':>8s}")
    for name, t in med.items():
        ms = t / b * 1e3
        print(f"{name:45s} {ms:15.3f} {ms / bound:8.2f} {fl * b / t / 1e9:8.1f}")

    # the whole ensemble on one batch of stars
    m = args.members
    members = [model] + [build_model() for _ in range(m - 1)]
    ens_paths: dict[str, Callable[[], object]] = {
        "keras predict (member by member)": lambda: [
            mm.predict(x, batch_size=b, verbose=0) for mm in members
        ],
        **{
            f"tf.function {backend} (chunks of {MICRO_BATCH[backend]})": CompiledEnsemble(
                members, backend=backend
            )
            for backend in ("xla", "graph")
        },
    }
    if onnx_available():
        ens_paths[f"onnxruntime ensemble_to_onnx (chunks of {args.micro})"] = CompiledEnsemble(
            members, args.micro, backend="onnx", threads=threads
        )
    calls = {
        name: (lambda f=f: f(x)) if isinstance(f, CompiledEnsemble) else f
        for name, f in ens_paths.items()
    }
    for f in calls.values():
        f()  # warm up
    ens_med = interleaved_medians(calls, args.ensemble_reps)
    print(f"\n{m}-member ensemble, {b} stars per call, median of {args.ensemble_reps}:")
    print(f"{'path':45s} {'stars/s':>9s} {'ms/star/member':>15s} {'x bound':>8s}")
    print(f"{'FLOP bound':45s} {1e3 / (bound * m):9.1f} {bound:15.3f} {1.0:8.2f}")
    for name, s in ens_med.items():
        ms = s / b / m * 1e3
        print(f"{name:45s} {b / s:9.1f} {ms:15.3f} {ms / bound:8.2f}")


if __name__ == "__main__":
    main()
