"""Admin pages for jobs, pipeline runs and publications (the staff pages show the same records)."""

from django.contrib import admin

from archive.catalogue.admin import ViewOnlyAdmin

from .models import PipelineRun, Publication


@admin.register(PipelineRun)
class PipelineRunAdmin(ViewOnlyAdmin):  # runs are started, cancelled and resumed at /ops/
    list_display = [
        "id",
        "phase",
        "stage",
        "percent",
        "model_version",
        "owner",
        "creation_time",
        "end_time",
    ]
    list_filter = ["phase", "stage"]


@admin.register(Publication)
class PublicationAdmin(ViewOnlyAdmin):  # publishing goes through archive.ops.publishing
    list_display = ["model_version", "previous", "published_at", "published_by", "note"]
