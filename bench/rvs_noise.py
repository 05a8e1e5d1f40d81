"""What the correlated RVS noise costs (labeling.augment.rvs_noise): white against correlated.

    .venv/bin/python bench/rvs_noise.py [--stars 2000] [--reps 5]

Side by side in one run, medians of ``--reps``: the noise alone for ``--stars`` spectra, the
whole synthesis of as many spectra (labeling.synthetic.spectra.synthesize), and the training
augmentation of one batch of 64 (labeling.augment.degrade).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from timing import interleaved_medians  # noqa: E402

from labeling.augment import RVS_NATIVE_PIXEL_PX, degrade, rvs_noise  # noqa: E402
from labeling.synthetic import SpectrumModel  # noqa: E402
from labeling.synthetic.spectra import N_PIX, synthesize  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--stars", type=int, default=2000)
    p.add_argument("--reps", type=int, default=5)
    args = p.parse_args()
    rng = np.random.default_rng(0)
    n = args.stars
    labels = (
        rng.uniform(4000, 6500, n),
        rng.uniform(1.0, 4.5, n),
        rng.uniform(-1.0, 0.3, n),
        rng.uniform(0.0, 0.3, n),
    )
    rest = (np.full(n, 4.0), np.zeros(n), np.full(n, 50.0), np.full(n, "", "U10"))
    batch, snr, target = np.ones((64, N_PIX), np.float32), np.full(64, 100.0), np.full(64, 20.0)
    cases = {}
    for name, px in (("white", None), ("correlated", RVS_NATIVE_PIXEL_PX)):
        model = replace(SpectrumModel(), noise_native_pixel_px=px)
        cases[f"noise, {n} spectra, {name}"] = lambda px=px: rvs_noise(rng, (n, N_PIX), px)
        cases[f"synthesize, {n} spectra, {name}"] = lambda m=model: synthesize(
            rng, *labels, *rest, m
        )
        cases[f"degrade, batch of 64, {name}"] = lambda px=px: degrade(batch, snr, target, rng, px)
    for f in cases.values():
        f()  # warm up
    for name, t in sorted(interleaved_medians(cases, args.reps).items()):
        print(f"{name:40s} {t * 1e3:9.2f} ms")


if __name__ == "__main__":
    main()
