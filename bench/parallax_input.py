"""How well G, BP, RP and the parallax fix log g, by how the parallax is fed (docs/science.md).

    .venv/bin/python bench/parallax_input.py [--stars 40000] [--seed 1]

A small MLP (scikit-learn, 64-32 hidden units) on the synthetic sky's training sample, 80/20
split, min-max scaled inputs as in Sect. 3.1; prints σ(log g) on the 20 % for the parallax
linear (the paper), as log10 ϖ, and as asinh(ϖ / 0.1 mas) (what labeling.preprocess ships).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from sklearn.neural_network import MLPRegressor  # noqa: E402
from sklearn.preprocessing import MinMaxScaler  # noqa: E402

from labeling.preprocess import phot_features  # noqa: E402
from labeling.synthetic.samples import synthetic_samples  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--stars", type=int, default=40_000)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    training = synthetic_samples(args.stars, args.seed).training
    logg, phot = training.labels[:, 1], training.phot
    order = np.random.default_rng(0).permutation(len(logg))
    fit_on, test_on = order[: int(0.8 * len(order))], order[int(0.8 * len(order)) :]
    print(
        f"{len(logg)} training stars; parallax at 0.1/50/99.9 %: "
        f"{np.percentile(phot[:, 3], [0.1, 50, 99.9]).round(2)} mas"
    )
    variants = {
        "linear parallax (the paper)": phot_features(phot, None),
        "log10 parallax": np.c_[phot[:, :3], np.log10(np.clip(phot[:, 3], 1e-3, None))],
        "asinh(parallax / 0.1 mas) (shipped)": phot_features(phot, 0.1),
    }
    for name, x in variants.items():
        x = MinMaxScaler().fit(x[fit_on]).transform(x)
        mlp = MLPRegressor(hidden_layer_sizes=(64, 32), max_iter=500, random_state=0,
                           early_stopping=True)  # fmt: skip
        mlp.fit(x[fit_on], logg[fit_on])
        print(f"{name:38s} σ(log g) = {np.std(mlp.predict(x[test_on]) - logg[test_on]):.3f} dex")


if __name__ == "__main__":
    main()
