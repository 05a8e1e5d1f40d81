"""The kinds of job the archive runs: one name each, registered with its task in its app."""

from django.db import models


class Kind(models.TextChoices):
    PIPELINE = "pipeline", "Pipeline run"
    TAP_QUERY = "tap_query", "TAP / web query"
    EXPORT = "export", "Bulk export"
    PROBE = "probe", "Jobs-layer probe"
