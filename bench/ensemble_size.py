"""Would a bigger ensemble flatten precision with S/N? σ by S/N bin for 1, M and ~28 members.

    .venv/bin/python bench/ensemble_size.py VERSION_DIR [--stars 100000] [--seed 1]

Labels the in-distribution observed stars of the synthetic sky that VERSION_DIR was trained on
(same --stars and --seed as bench/science.py), in the S/N bins 15–25 and ≥ 75 (Fig. 16), with
every member. Per bin and label, the residual variance against the truth of one member (σ₁²,
the members' mean) and of the M-member mean (σ_M²) fit σ_K² = a + b/K (b: the part of one
member's error that averaging removes), which gives the 28-member σ of the paper (Sect. 3.2)
by extrapolation. The fit treats members as independent. Members of one split share training
stars (here and in the paper's 7 × 4), so it is an estimate.
"""

from __future__ import annotations

import numpy as np
from trained_sky import load, parser

from labeling.ensemble import predict_ensemble
from labeling.labels import LABELS
from labeling.synthetic import OUTSIDE_TRAINING


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--extrapolate-to", type=int, default=28)
    args = p.parse_args()
    s, _, labeller = load(args)
    inside = ~np.isin(s.observed_population, list(OUTSIDE_TRAINING))
    snr = s.observed.snr
    bins = {"15-25": inside & (snr >= 15) & (snr < 25), ">=75": inside & (snr >= 75)}
    k = args.extrapolate_to
    sigma: dict[str, dict[str, np.ndarray]] = {}
    for name, mask in bins.items():
        stars = s.observed.subset(np.flatnonzero(mask))
        y = predict_ensemble(
            labeller.ensemble, stars, labeller.preprocessor, 4096, return_members=True
        ).members.astype(np.float64)
        r = y - stars.labels[None]
        m = y.shape[0]
        var_1 = np.mean(np.var(r, axis=1), axis=0)
        var_m = np.var(r.mean(axis=0), axis=0)
        b = (var_1 - var_m) * m / (m - 1)
        sigma[name] = {
            "1": np.sqrt(var_1),
            str(m): np.sqrt(var_m),
            str(k): np.sqrt(np.maximum(var_1 - b + b / k, 0.0)),
        }
        print(f"S/N {name}: {len(stars)} stars, {m} members")
    print(f"{'label':8s} " + " ".join(f"{f'ratio, {n} members':>20s}" for n in sigma["15-25"]))
    for j, label in enumerate(LABELS):
        ratios = [sigma["15-25"][n][j] / sigma[">=75"][n][j] for n in sigma["15-25"]]
        print(f"{label:8s} " + " ".join(f"{x:20.2f}" for x in ratios))


if __name__ == "__main__":
    main()
