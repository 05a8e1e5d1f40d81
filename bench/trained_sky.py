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
from labeling.synthetic import ChemistryModel, SkyConfig  # noqa: E402
from labeling.synthetic.samples import SyntheticSamples, synthetic_samples  # noqa: E402
from labeling.version import LoadedVersion, load_version  # noqa: E402


def add_sky_arguments(p: argparse.ArgumentParser) -> None:
    """--white-noise and --no-abundance-offsets: the skies of earlier measurements."""
    p.add_argument(
        "--white-noise",
        action="store_true",
        help="the sky of measurements one to thirteen (uncorrelated RVS noise, no abundance "
        "offsets)",
    )
    p.add_argument(
        "--no-abundance-offsets",
        action="store_true",
        help="the sky of measurements fourteen and fifteen (no star-to-star abundance offsets)",
    )


def parser(description: str) -> argparse.ArgumentParser:
    """VERSION_DIR, --stars, --seed and the sky flags: the bench/science.py run's sky."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("version", type=Path)
    p.add_argument("--stars", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=1)
    add_sky_arguments(p)
    return p


def sky_config(args: argparse.Namespace) -> SkyConfig:
    config = SkyConfig()
    if args.white_noise or args.no_abundance_offsets:
        config = replace(config, chemistry=ChemistryModel(0.0, 0.0))
    if args.white_noise:
        config = replace(config, spectrum=replace(config.spectrum, noise_native_pixel_px=None))
    return config


def load(args: argparse.Namespace) -> tuple[SyntheticSamples, LoadedVersion, Labeller]:
    version = load_version(args.version)
    sky = synthetic_samples(args.stars, args.seed, sky_config(args))
    return sky, version, Labeller.from_version(version)
