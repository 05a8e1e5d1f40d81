from django.apps import AppConfig


class TapConfig(AppConfig):
    name = "archive.tap"
    label = "tap"
    verbose_name = "TAP"

    def ready(self) -> None:
        from archive.jobs import registry
        from archive.jobs.kinds import Kind

        registry.register(
            Kind.TAP_QUERY, "tap.run_query", "An async TAP query (ADQL or PostgreSQL)"
        )

        from django.conf import settings
        from django.db.models.signals import pre_delete

        pre_delete.connect(_drop_tables, sender=settings.AUTH_USER_MODEL)


def _drop_tables(sender, instance, **kwargs) -> None:
    """A deleted user's personal tables go with them, not left behind unreadable."""
    from .personal import drop_all

    drop_all(instance)
