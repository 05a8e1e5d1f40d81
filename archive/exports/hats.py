"""A version's catalogue as a HATS catalogue (HEALPix-partitioned Parquet that LSDB opens), built
by hats-import from the export's own Parquet files into ``hats/rvs_cnn`` of the staging
directory, so it is published with the rest of the export by the same rename.

hats-import runs on a dask ``Client``: an in-process one (threads, no worker processes), since
the build runs inside a Celery worker and must not leave processes behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from archive.errors import ServiceError

DIRECTORY = "hats"
CATALOGUE = "rvs_cnn"
#: rows of one HATS partition at most: a file LSDB reads over HTTP in one go
PIXEL_THRESHOLD = 500_000


class HatsUnavailable(ServiceError):
    """The optional ``hats`` extra (hats, hats-import) is not installed."""


def available() -> bool:
    try:
        import hats_import  # noqa: F401
    except ImportError:
        return False
    return True


def write_hats(parquet_files: Sequence[Path], staging: Path, tmp: Path) -> Path:
    """Import ``parquet_files`` (the export's, with ra and dec) as the HATS catalogue
    ``staging/hats/rvs_cnn``; ``tmp`` holds the intermediate files. Returns its directory."""
    try:
        from dask.distributed import Client
        from hats_import.catalog.arguments import ImportArguments
        from hats_import.pipeline import pipeline_with_client
    except ImportError as exc:
        raise HatsUnavailable(f"HATS needs the 'hats' extra: {exc}") from None
    out = staging / DIRECTORY
    out.mkdir(exist_ok=True)
    args = ImportArguments(
        output_path=str(out),
        output_artifact_name=CATALOGUE,
        input_file_list=[str(p) for p in parquet_files],
        file_reader="parquet",
        ra_column="ra",
        dec_column="dec",
        sort_columns="source_id",
        pixel_threshold=PIXEL_THRESHOLD,
        highest_healpix_order=8,
        tmp_dir=str(tmp),
        resume=False,
        progress_bar=False,
    )
    # ":0": a free port for the dashboard, so two builds at once do not contend for 8787
    with Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=":0") as c:
        pipeline_with_client(args, c)
    return out / CATALOGUE
