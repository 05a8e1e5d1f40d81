"""Data for the public pages' tests: a synthetic sky ingested as ``make demo`` does, and a
published model version with a real validation report."""

from pathlib import Path

import numpy as np
from django.core.management import call_command
from django.utils import timezone

from archive.catalogue.models import ModelVersion
from labeling.synthetic import write_sky
from labeling.validation import ValidationData, write_report


def ingest_synthetic_stars(tmp_path: Path, n: int = 40) -> None:
    """The synthetic sky's gaia_source file, through ``manage.py ingest``."""
    files = write_sky(tmp_path / "sky", n, seed=5)
    call_command("ingest", "gaia-source", str(files.gaia_source), "--no-progress")


def published_version_with_report(tmp_path: Path, name: str = "v-web", published=True):
    """A model version whose directory holds a validation report written by write_report."""
    rng = np.random.default_rng(1)
    n = 400
    truth = np.array([4800.0, 2.8, -0.2, 0.1, -0.25]) + rng.standard_normal((n, 5))
    sample = np.where(np.arange(n) % 2 == 0, "training", "heldout")
    data = ValidationData(
        source_id=np.arange(n),
        sample=sample,
        truth=truth,
        pred=truth + 0.05 * rng.standard_normal((n, 5)),
        e=np.full((n, 5), 0.02),
        sigma=np.full((n, 5), 0.06),
        snr=rng.uniform(20, 100, n),
        flags=np.full(n, "00000000"),
        member_pred=truth[sample == "heldout"][:, None, :] + np.zeros((1, 2, 1)),
    )
    path = tmp_path / name
    write_report(path / "files" / "validation", data, title=f"Model version {name}", config={})
    return ModelVersion.objects.create(
        name=name,
        status="ready",
        is_published=published,
        published_at=timezone.now() if published else None,
        n_splits=1,
        n_members=2,
        path=str(path),
    )
