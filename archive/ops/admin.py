"""Admin pages for pipeline runs and publications (the staff pages show the same records)."""

from django.contrib import admin

from .models import PipelineRun, Publication


@admin.register(PipelineRun)
class PipelineRunAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "status",
        "stage",
        "percent",
        "model_version",
        "created_by",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "stage"]
    readonly_fields = [
        "created_at",
        "started_at",
        "finished_at",
        "counts",
        "timings",
        "log",
        "error",
    ]


@admin.register(Publication)
class PublicationAdmin(admin.ModelAdmin):
    list_display = ["model_version", "previous", "published_at", "published_by", "note"]
    readonly_fields = ["model_version", "previous", "published_at", "published_by", "note"]

    def has_add_permission(self, request):
        return False  # publishing goes through archive.ops.publishing, never a bare row
