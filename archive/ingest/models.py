"""What was ingested: one row per file loaded, with its counts and provenance."""

from django.db import models


class IngestedFile(models.Model):
    """A file an ingest loaded (written in the ingest's own transaction: no row, no data)."""

    product = models.CharField(max_length=32, help_text="As typed on the command line")
    path = models.CharField(max_length=1000)
    size_bytes = models.BigIntegerField()
    #: the file's header carries the marker of labeling.synthetic (labeling.io.provenance)
    synthetic_sky = models.BooleanField(default=False)
    provenance = models.JSONField(
        default=dict, blank=True, help_text="The header's provenance entries (synthetic sky)"
    )
    read = models.BigIntegerField()
    inserted = models.BigIntegerField()
    updated = models.BigIntegerField()
    unchanged = models.BigIntegerField()
    rejected = models.BigIntegerField()
    ingested_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "ingested_file"
        ordering = ["-ingested_at"]
        indexes = [models.Index(fields=["product", "synthetic_sky"])]

    def __str__(self) -> str:
        return f"{self.product} {self.path}"

    @classmethod
    def stars_are_synthetic(cls) -> bool:
        """Whether the stars (gaia_source) came, at least in part, from the synthetic sky."""
        return cls.objects.filter(product="gaia-source", synthetic_sky=True).exists()
