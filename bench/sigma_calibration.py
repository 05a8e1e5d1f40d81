"""How well σ_*'s scale is set from few held-out stars: on half of them or on all of them.

    .venv/bin/python bench/sigma_calibration.py VERSION_DIR [--stars 100000] [--seed 1]
        [--heldout 361] [--runs 60]

Labels the held-out stars of the synthetic sky that VERSION_DIR was trained on (same --stars and
--seed as bench/science.py). Each run draws --heldout of them as the held-out set of a smaller
version, sets the scale k of σ_* (DispersionModel.calibrated, against the APOGEE-like labels with
their errors) on half of that set or on all of it, and measures the share of the remaining stars
within 1σ_* of the TRUE labels. Printed per label: the median and spread of that
share over the runs, and how often it lies in 60–75 % (issue 5). docs/science.md, twelfth
measurement.
"""

from __future__ import annotations

import numpy as np
from trained_sky import load, parser

from labeling.labels import LABELS
from labeling.uncertainty import DispersionModel, coverage


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--heldout", type=int, default=361, help="held-out stars of the smaller version")
    p.add_argument("--runs", type=int, default=60)
    args = p.parse_args()
    s, version, labeller = load(args)
    holdout = np.asarray(version.artifacts["samples"]["holdout"])
    stars, truth = s.training.subset(holdout), s.training_truth[holdout]
    out = labeller.label(stars)
    d = labeller.dispersion
    uncalibrated = DispersionModel(fits=d.fits, against=d.against)
    vs_truth = out.labels - truth
    rng = np.random.default_rng(args.seed)
    shares: dict[str, list] = {"half": [], "all": []}
    for _ in range(args.runs):
        order = rng.permutation(len(stars))
        drawn, rest = order[: args.heldout], order[args.heldout :]
        for name, rows in (("half", drawn[: args.heldout // 2]), ("all", drawn)):
            calibrated = uncalibrated.calibrated(
                stars.labels[rows], out.labels[rows], out.e[rows], stars.label_errors[rows]
            )
            sigma = calibrated.total_sigma(out.labels[rest], out.e[rest])
            shares[name].append(
                [coverage(vs_truth[rest, j], sigma[:, j])[0] for j in range(len(LABELS))]
            )
    print(
        f"{len(stars)} held-out stars; versions of {args.heldout}, {args.runs} runs; "
        "share within 1 sigma_* of the truth"
    )
    print(f"{'k set on':10s}{'label':9s}{'median':>8s}{'spread':>8s}{'in 60-75 %':>12s}")
    for name, rows in shares.items():
        a = 100 * np.array(rows)
        inside = np.mean((a >= 60) & (a <= 75), axis=0)
        for j, label in enumerate(LABELS):
            print(
                f"{name:10s}{label:9s}{np.median(a[:, j]):7.1f}%{a[:, j].std():7.1f}%"
                f"{100 * inside[j]:11.0f}%"
            )


if __name__ == "__main__":
    main()
