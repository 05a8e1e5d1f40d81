"""``manage.py make_synthetic --stars N --seed S --out DIR``: a synthetic DR3-like sky.

Writes the Gaia bulk ECSV products, an allStar-format FITS and the truth table, in the real
formats, so that demos, tests and benchmarks go through the real ingest path
(docs/synthetic-sky.md).
"""

import time
from dataclasses import fields, replace

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from labeling.synthetic import write_sky
from labeling.synthetic.config import SkyConfig


class Command(BaseCommand):
    help = "Generate a synthetic Gaia DR3-like RVS sky in the real bulk formats"

    def add_arguments(self, parser):
        parser.add_argument("--stars", type=int, required=True, help="number of RVS stars")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--out", required=True, help="output directory")
        parser.add_argument(
            "--apogee-fraction",
            type=float,
            default=SkyConfig().apogee.fraction,
            help="share of the stars APOGEE observed (default: the paper's 0.21)",
        )
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, stars, seed, out, apogee_fraction, no_progress, **options):
        if not 0.0 < apogee_fraction <= 1.0:
            raise CommandError(f"--apogee-fraction must be in (0, 1], not {apogee_fraction}")
        base = SkyConfig()
        config = replace(base, apogee=replace(base.apogee, fraction=apogee_fraction))
        start = time.perf_counter()
        with tqdm(total=stars, unit=" stars", disable=True if no_progress else None) as bar:
            files = write_sky(
                out, stars, seed, config, progress=lambda done: bar.update(done - bar.n)
            )
        elapsed = time.perf_counter() - start
        self.stdout.write(
            f"{stars} stars (seed {seed}) in {elapsed:.0f} s ({stars / elapsed:,.0f} stars/s):"
        )
        for f in fields(files):
            self.stdout.write(f"  {getattr(files, f.name)}")
