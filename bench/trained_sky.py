"""The synthetic sky a bench/science.py version was trained on, and the version's labeller."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from labeling.pipeline import Labeller  # noqa: E402
from labeling.synthetic import SkyConfig  # noqa: E402
from labeling.synthetic.samples import SyntheticSamples, synthetic_samples  # noqa: E402
from labeling.version import LoadedVersion, load_version  # noqa: E402


def parser(description: str) -> argparse.ArgumentParser:
    """VERSION_DIR, --stars, --seed (and --white-noise): the bench/science.py run's sky."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("version", type=Path)
    p.add_argument("--stars", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--white-noise",
        action="store_true",
        help="the sky of versions trained before 2026-11-30 (uncorrelated RVS noise)",
    )
    return p


def sky_config(args: argparse.Namespace) -> SkyConfig:
    if not args.white_noise:
        return SkyConfig()
    spectrum = replace(SkyConfig().spectrum, noise_native_pixel_px=None)
    return replace(SkyConfig(), spectrum=spectrum)


def load(args: argparse.Namespace) -> tuple[SyntheticSamples, LoadedVersion, Labeller]:
    version = load_version(args.version)
    sky = synthetic_samples(args.stars, args.seed, sky_config(args))
    return sky, version, Labeller.from_version(version)
