"""What the XP coefficients and photometry alone carry about each label (docs/synthetic-sky.md).

    .venv/bin/python bench/xp_labels.py [--stars 40000] [--seed 1]

Not the CNN: a gradient-boosted regression (scikit-learn, installed with openTSNE) of each
label on the 110 XP coefficients divided by the first (Sect. 3.1), G, BP, RP and parallax. It
is trained on the true labels of half the clean in-distribution observed stars and scored on
the other half, so it measures the sky's information, not the size of the APOGEE-like training
sample; tree models of the same kind reach 0.089 dex in [M/H] and 0.044 dex in [α/M] on real
XP spectra against APOGEE DR17 (Hattori 2024, arXiv:2404.01269). Printed: σ against the truth
over all scored stars, in the S/N bins 15–25 and ≥ 75 (Fig. 16) and in Teff ranges, for the
sky as shipped and for the skies of earlier versions (metal lines in XP fading out at 6 500 K,
no hydrogen lines) and one without dust.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
from sklearn.ensemble import HistGradientBoostingRegressor  # noqa: E402

from labeling.labels import LABELS  # noqa: E402
from labeling.preprocess import phot_features, xp_relative  # noqa: E402
from labeling.synthetic import OUTSIDE_TRAINING, ExtinctionModel, SkyConfig  # noqa: E402
from labeling.synthetic.samples import synthetic_samples  # noqa: E402

TEFF_RANGES = ((3500, 4500), (4500, 5200), (5200, 6000), (6000, 6500), (6500, 8000))
UNITS = {"teff": "{:.0f} K"}  # the others: dex


def features(stars) -> np.ndarray:
    return np.concatenate([xp_relative(stars.xp), phot_features(stars.phot, 0.1)], axis=1)


def xp_sigma(config: SkyConfig, n_stars: int, seed: int) -> dict[str, dict[str, float]]:
    """σ(regression − truth) per label: overall, per S/N bin and per Teff range."""
    s = synthetic_samples(n_stars, seed, config)
    inside = np.flatnonzero(~np.isin(s.observed_population, list(OUTSIDE_TRAINING)))
    fit, score = inside[0::2], inside[1::2]
    x, truth, snr = features(s.observed), s.observed.labels, s.observed.snr[score]
    teff = truth[score, 0]
    groups = {
        "all": np.ones(score.size, bool),
        "S/N 15-25": (snr >= 15) & (snr < 25),
        "S/N >= 75": snr >= 75,
        **{f"{lo}-{hi} K": (teff >= lo) & (teff < hi) for lo, hi in TEFF_RANGES},
    }
    out = {}
    for j, label in enumerate(LABELS):
        model = HistGradientBoostingRegressor(max_iter=800, random_state=seed)
        model.fit(x[fit], truth[fit, j])
        residual = model.predict(x[score]) - truth[score, j]
        out[label] = {name: float(residual[m].std()) for name, m in groups.items()}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--stars", type=int, default=40_000)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    shipped = SkyConfig()
    skies = {
        "as shipped": shipped,
        "metal lines fade at 6500 K": replace(
            shipped, xp=replace(shipped.xp, metal_lines_fade_k=6500.0)
        ),
        "... and no hydrogen lines": replace(
            shipped, xp=replace(shipped.xp, metal_lines_fade_k=6500.0, hydrogen_line_strength=0.0)
        ),
        "no dust": replace(shipped, extinction=ExtinctionModel(av_per_kpc=0.0)),
    }
    for name, config in skies.items():
        result = xp_sigma(config, args.stars, args.seed)
        print(f"\n{name}")
        columns = list(next(iter(result.values())))
        print(f"{'':8s}" + "".join(f"{c:>12s}" for c in columns))
        for label, row in result.items():
            fmt = UNITS.get(label, "{:.3f}")
            cells = "".join(f"{fmt.format(v):>12s}" for v in row.values())
            print(f"{label:8s}{cells}", flush=True)


if __name__ == "__main__":
    main()
