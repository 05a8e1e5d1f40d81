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
