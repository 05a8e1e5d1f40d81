"""Staff see personal tables and set a user's quota for them."""

from django.contrib import admin

from .models import PersonalTable, TableQuota


@admin.register(PersonalTable)
class PersonalTableAdmin(admin.ModelAdmin):
    list_display = ("schema", "name", "owner", "n_rows", "size_bytes", "created")
    readonly_fields = ("schema", "name", "owner", "columns", "n_rows", "size_bytes")


@admin.register(TableQuota)
class TableQuotaAdmin(admin.ModelAdmin):
    list_display = ("user", "bytes")
