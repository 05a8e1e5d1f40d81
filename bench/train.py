"""Training speed of one ensemble member (Guiglion et al. 2024, Sect. 3.2: ~8 min per model,
~80 epochs, on an Apple M1), extrapolated to the paper's scale (a script, not a test).

On random inputs of the paper's shapes, fits the hybrid CNN for ``--epochs`` epochs on
``--stars`` training stars (+ a 25 % validation set) through
:class:`labeling.ensemble.StarBatches` (batches streamed from the spectrum source, as
:func:`labeling.ensemble.train_member` does) and, for comparison, on in-memory arrays. The
first epoch (tracing) is dropped; the median of the others gives seconds per epoch, scaled to
33 585 training + 11 195 validation spectra (75/25 of 44 780) and to 80 epochs (the paper's
typical minimum) and 100 (80 + early-stopping patience 20)::

    TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python bench/train.py
    TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python bench/train.py --stars 4096 --epochs 4 --batch 64 128
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PAPER_TRAIN, PAPER_VAL = 33_585, 11_195


class RandomPrep:
    """Preprocessing of already-scaled random inputs (no work beyond the copy of a batch)."""

    def __init__(self, phot: np.ndarray, xp: np.ndarray) -> None:
        self.phot, self.xp = phot, xp

    def inputs(self, stars, indices):
        return {
            "spectrum": stars.spectra.get(indices)[:, :, None],
            "phot": self.phot[indices],
            "xp": self.xp[indices],
        }

    def targets(self, labels):
        return labels.astype(np.float32)

    def labels_from_scaled(self, y):
        return y


class EpochTimer:
    def __init__(self) -> None:
        import keras

        class _CB(keras.callbacks.Callback):
            def on_epoch_begin(cb, epoch, logs=None):
                cb.t0 = time.perf_counter()

            def on_epoch_end(cb, epoch, logs=None):
                self.times.append(time.perf_counter() - cb.t0)

        self.times: list[float] = []
        self.callback = _CB()


@dataclass
class RandomTraining:
    """Random stars of the paper's shapes, as StarSet + prep (streamed) and as arrays."""

    stars: object  # labeling.dataset.StarSet
    prep: RandomPrep
    arrays: dict[str, np.ndarray]
    labels: np.ndarray
    train: np.ndarray
    val: np.ndarray

    @classmethod
    def make(cls, n_train: int, n_val: int) -> RandomTraining:
        from labeling.dataset import ArraySpectra, StarSet

        n = n_train + n_val
        rng = np.random.default_rng(0)
        flux = rng.random((n, 2401), np.float32)
        phot = rng.random((n, 4), np.float32)
        xp = rng.random((n, 110), np.float32)
        labels = rng.random((n, 5), np.float32)
        stars = StarSet(np.arange(n), ArraySpectra(flux), phot, xp, np.ones(n), labels)
        arrays = {"spectrum": flux[:, :, None], "phot": phot, "xp": xp}
        tr, va = np.arange(n_train), np.arange(n_train, n)
        return cls(stars, RandomPrep(phot, xp), arrays, labels, tr, va)

    def epoch_times(self, streamed: bool, batch: int, epochs: int) -> list[float]:
        """Wall time of each epoch of a fresh hybrid CNN's ``fit`` (validation included)."""
        import keras

        from labeling.ensemble import StarBatches
        from labeling.model import build_model

        keras.utils.set_random_seed(0)
        model = build_model()
        timer = EpochTimer()
        common = {"epochs": epochs, "verbose": 0, "callbacks": [timer.callback]}
        if streamed:
            train = StarBatches(self.stars, self.prep, self.train, batch, shuffle=True, seed=0)
            val = StarBatches(self.stars, self.prep, self.val, 512)
            model.fit(train, validation_data=val, shuffle=False, **common)
        else:
            tr, va = self.train, self.val
            model.fit(
                {k: v[tr] for k, v in self.arrays.items()},
                self.labels[tr],
                validation_data=({k: v[va] for k, v in self.arrays.items()}, self.labels[va]),
                batch_size=batch,
                **common,
            )
        return timer.times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stars", type=int, default=4096, help="training stars (default 4096)")
    ap.add_argument("--epochs", type=int, default=4, help="epochs; the first is dropped")
    ap.add_argument("--batch", type=int, nargs="+", default=[64, 128])
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras

    n_tr = args.stars
    n_va = n_tr // 3
    data = RandomTraining.make(n_tr, n_va)

    print(
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; "
        f"{args.threads} threads; tensorflow {tf.__version__}, keras {keras.__version__}"
    )
    print(f"{n_tr} training + {n_va} validation stars, {args.epochs} epochs (first dropped)\n")
    print(
        f"{'path':28s} {'batch':>5s} {'s/epoch':>8s} {'ms/star':>8s} "
        f"{'paper epoch s':>13s} {'min @80':>8s} {'min @100':>8s}"
    )
    for batch in args.batch:
        for path in ("StarBatches (streamed)", "in-memory arrays"):
            times = data.epoch_times(path.startswith("StarBatches"), batch, args.epochs)
            s = statistics.median(times[1:])
            # a validation star costs ~1/3 of a training star (forward only)
            per_star = s / (n_tr + n_va / 3)
            paper_epoch = per_star * (PAPER_TRAIN + PAPER_VAL / 3)
            print(
                f"{path:28s} {batch:5d} {s:8.1f} {per_star * 1e3:8.2f} {paper_epoch:13.0f} "
                f"{paper_epoch * 80 / 60:8.0f} {paper_epoch * 100 / 60:8.0f}"
            )


if __name__ == "__main__":
    main()
