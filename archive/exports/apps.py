from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "archive.exports"
    label = "exports"
    verbose_name = "Bulk exports"

    def ready(self) -> None:
        from django.db.models.signals import post_delete

        from archive.catalogue.models import ModelVersion
        from archive.jobs.kinds import Kind
        from archive.jobs.registry import register

        from .store import remove_export

        register(Kind.EXPORT, task="exports.build", description="bulk files of a model version")

        def version_deleted(sender, instance, **kwargs) -> None:
            remove_export(instance.name)  # an export stays exactly as long as its version

        post_delete.connect(
            version_deleted, sender=ModelVersion, weak=False, dispatch_uid="exports.version_deleted"
        )
