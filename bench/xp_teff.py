"""How much Teff the XP coefficients and photometry carry, by RVS S/N (docs/synthetic-sky.md).

    .venv/bin/python bench/xp_teff.py [--stars 40000] [--seed 1]

Not the CNN: a gradient-boosted regression (scikit-learn, installed with openTSNE) of Teff on
the 110 XP coefficients divided by the first (Sect. 3.1), G, BP, RP and parallax, trained on
the synthetic training sample and scored against the truth on the clean in-distribution
observed stars in the S/N bins 15–25 and ≥ 75 (Fig. 16). It runs three skies: as shipped,
without the hydrogen lines in XP, and without dust, to show what makes faint stars' XP Teff
worse than bright stars'.
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

from labeling.preprocess import phot_features, xp_relative  # noqa: E402
from labeling.synthetic import OUTSIDE_TRAINING, ExtinctionModel, SkyConfig, XpModel  # noqa: E402
from labeling.synthetic.samples import synthetic_samples  # noqa: E402


def features(stars) -> np.ndarray:
    return np.concatenate([xp_relative(stars.xp), phot_features(stars.phot, 0.1)], axis=1)


def teff_sigma_by_snr(config: SkyConfig, n_stars: int, seed: int) -> tuple[float, float]:
    s = synthetic_samples(n_stars, seed, config)
    model = HistGradientBoostingRegressor(max_iter=600, random_state=seed)
    model.fit(features(s.training), s.training.labels[:, 0])
    residual = model.predict(features(s.observed)) - s.observed.labels[:, 0]
    inside = ~np.isin(s.observed_population, list(OUTSIDE_TRAINING))
    snr = s.observed.snr
    low, high = inside & (snr >= 15) & (snr < 25), inside & (snr >= 75)
    return float(residual[low].std()), float(residual[high].std())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--stars", type=int, default=40_000)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    skies = {
        "as shipped": SkyConfig(),
        "no hydrogen lines in XP": SkyConfig(xp=XpModel(hydrogen_line_strength=0.0)),
        "no dust": replace(SkyConfig(), extinction=ExtinctionModel(av_per_kpc=0.0)),
    }
    print("sky                        σ Teff S/N 15-25   σ Teff S/N >= 75   ratio")
    for name, config in skies.items():
        low, high = teff_sigma_by_snr(config, args.stars, args.seed)
        print(f"{name:26s} {low:12.0f} K {high:16.0f} K {low / high:9.2f}", flush=True)


if __name__ == "__main__":
    main()
