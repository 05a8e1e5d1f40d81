"""Jobs of every kind, read-only: they change through archive.jobs.lifecycle."""

from django.contrib import admin

from archive.catalogue.admin import ViewOnlyAdmin

from .models import Job


@admin.register(Job)
class JobAdmin(ViewOnlyAdmin):
    list_display = ["id", "kind", "phase", "owner", "creation_time", "end_time", "attempt"]
    list_filter = ["kind", "phase"]
