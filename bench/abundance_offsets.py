"""What the abundance offsets cost (labeling.synthetic.ChemistryModel): a sky chunk without
and with them.

    .venv/bin/python bench/abundance_offsets.py [--stars 2000] [--reps 5]

Side by side in one run, medians of ``--reps``: labelled stars, photometry, RVS spectra, XP
and the APOGEE subset for ``--stars`` stars (labeling.synthetic.generate_chunk), in memory.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from timing import interleaved_medians  # noqa: E402

from labeling.synthetic import ChemistryModel, SkyConfig, block_rng, generate_chunk  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--stars", type=int, default=2000)
    p.add_argument("--reps", type=int, default=5)
    args = p.parse_args()
    configs = {
        "without offsets": replace(SkyConfig(), chemistry=ChemistryModel(0.0, 0.0)),
        "with offsets": SkyConfig(),
    }
    cases = {
        f"generate_chunk, {args.stars} stars, {name}": (
            lambda c=config: generate_chunk(block_rng(1, 0), args.stars, 0, c)
        )
        for name, config in configs.items()
    }
    for f in cases.values():
        f()  # warm up
    for name, t in sorted(interleaved_medians(cases, args.reps).items()):
        print(f"{name:50s} {t * 1e3:9.1f} ms  {args.stars / t:7.0f} stars/s")


if __name__ == "__main__":
    main()
