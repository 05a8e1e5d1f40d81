"""The synthetic sky a bench/science.py version was trained on, and the version's labeller."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from labeling.pipeline import Labeller  # noqa: E402
from labeling.synthetic.samples import SyntheticSamples, synthetic_samples  # noqa: E402
from labeling.version import LoadedVersion, load_version  # noqa: E402


def parser(description: str) -> argparse.ArgumentParser:
    """VERSION_DIR, --stars and --seed: the arguments of the bench/science.py run."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("version", type=Path)
    p.add_argument("--stars", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=1)
    return p


def load(args: argparse.Namespace) -> tuple[SyntheticSamples, LoadedVersion, Labeller]:
    version = load_version(args.version)
    return synthetic_samples(args.stars, args.seed), version, Labeller.from_version(version)
