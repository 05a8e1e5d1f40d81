"""Is σ_* honest across each label's range, not only on average? Coverage in label bins.

    .venv/bin/python bench/coverage_by_label.py VERSION_DIR [--stars 100000] [--seed 1]
        [--min-snr 30] [--n 30000]

σ_* is a function of the predicted label (the running dispersion of Sect. 3.4, fitted on the
training sample). For up to ``--n`` clean (flag_boundary 00000000) in-distribution observed
stars of the synthetic sky VERSION_DIR was trained on, at S/N ≥ ``--min-snr`` (the training
sample's S/N, where the dispersion was measured), it prints per label the share of residuals
against the truth within 1σ_*, in bins of the predicted label's percentiles (0–2, 2–5, 5–50,
50–95, 95–98, 98–100), and the mean distance of those shares from 68.3 %.
"""

from __future__ import annotations

import numpy as np
from trained_sky import load, parser

from labeling.labels import LABELS
from labeling.synthetic import OUTSIDE_TRAINING

PERCENTILES = (0, 2, 5, 50, 95, 98, 100)
ONE_SIGMA = 0.6827


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--min-snr", type=float, default=30.0)
    p.add_argument("--n", type=int, default=30_000)
    args = p.parse_args()
    sky, _, labeller = load(args)
    obs = sky.observed
    ok = ~np.isin(sky.observed_population, OUTSIDE_TRAINING) & (obs.snr >= args.min_snr)
    rng = np.random.default_rng(0)
    idx = np.flatnonzero(ok)
    idx = np.sort(rng.choice(idx, min(idx.size, args.n), replace=False))
    out = labeller.label(obs.subset(idx))
    clean = out.flags == "0" * 8
    pred, truth, sigma = out.labels[clean], obs.labels[idx][clean], out.sigma[clean]
    print(f"{clean.sum()} clean stars at S/N >= {args.min_snr:g}; within 1 sigma_* vs truth, by")
    print(
        "percentile of the predicted label: "
        + ", ".join(f"{a}-{b}" for a, b in zip(PERCENTILES[:-1], PERCENTILES[1:], strict=True))
    )
    distances = []
    for j, label in enumerate(LABELS):
        edges = np.percentile(pred[:, j], PERCENTILES)
        within = np.abs(pred[:, j] - truth[:, j]) <= sigma[:, j]
        cells = []
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            rows = (pred[:, j] >= lo) & (pred[:, j] <= hi)
            cells.append(float(within[rows].mean()))
        distances += [abs(c - ONE_SIGMA) for c in cells]
        print(f"{label:8s}" + "".join(f"{100 * c:7.1f}" for c in cells))
    print(f"mean |share - 68.3 %| over the cells: {100 * np.mean(distances):.1f} points")


if __name__ == "__main__":
    main()
