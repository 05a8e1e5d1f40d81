"""What every page needs to know about the data it shows."""

from django.http import HttpRequest

from archive.ingest.models import IngestedFile


def data_origin(request: HttpRequest) -> dict[str, bool]:
    """``synthetic_sky``: the stars were ingested from files marked as the synthetic sky (the
    marker the synthetic-sky writer puts in every file's header, recorded by the ingest)."""
    return {"synthetic_sky": IngestedFile.stars_are_synthetic()}
