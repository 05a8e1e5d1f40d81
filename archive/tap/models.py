"""Personal tables: a signed-in user's own tables in the schema ``user_<name>``, shared
read-only with named users, within a quota (archive/tap/personal.py makes and drops them)."""

from __future__ import annotations

import re

from django.conf import settings
from django.db import models

DEFAULT_QUOTA_BYTES = 2**30


def schema_of(username: str) -> str:
    """The PostgreSQL schema of a user's tables: ``user_`` and the name folded to what an
    unquoted ADQL identifier may hold."""
    return "user_" + re.sub(r"[^a-z0-9_]", "_", username.lower())


class PersonalTable(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="personal_tables"
    )
    schema = models.CharField(max_length=80)
    name = models.CharField(max_length=63)
    #: the columns as VOField keyword arguments, in order
    columns = models.JSONField()
    n_rows = models.BigIntegerField()
    size_bytes = models.BigIntegerField()
    description = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    shared_with = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="shared_tables", blank=True
    )

    class Meta:
        db_table = "personal_table"
        constraints = [
            models.UniqueConstraint(fields=["schema", "name"], name="personal_table_unique")
        ]

    def __str__(self) -> str:
        return self.qualified

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


class TableQuota(models.Model):
    """A staff override of one user's quota for personal tables (else 1 GiB)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="table_quota"
    )
    bytes = models.BigIntegerField(help_text="Bytes of personal tables this user may hold")

    class Meta:
        db_table = "personal_table_quota"

    def __str__(self) -> str:
        return f"{self.user}: {self.bytes} bytes"


def quota_of(user) -> int:
    found = TableQuota.objects.filter(user=user).first()
    return found.bytes if found else getattr(settings, "PERSONAL_TABLE_QUOTA", DEFAULT_QUOTA_BYTES)
