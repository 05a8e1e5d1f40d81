"""A user's API token: what ``Authorization: Token <key>`` names (one per user)."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models


def digest(key: str) -> str:
    """Only the SHA-256 of a key is stored: a database dump gives no one a working token."""
    return hashlib.sha256(key.encode()).hexdigest()


class ApiToken(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_token"
    )
    key_digest = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8, help_text="The key's first characters, to tell it")
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "api_token"

    def __str__(self) -> str:
        return f"token {self.prefix}… of {self.user}"

    @classmethod
    def issue(cls, user) -> str:
        """A new key for ``user`` (replacing any old one); the key is shown once, never stored."""
        key = secrets.token_urlsafe(30)
        cls.objects.update_or_create(
            user=user, defaults={"key_digest": digest(key), "prefix": key[:8]}
        )
        return key
