from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "archive.ops"
    label = "ops"
    verbose_name = "Operations"

    def ready(self) -> None:
        from archive.jobs.kinds import Kind
        from archive.jobs.registry import register

        # the worker's task names (tasks/pipeline.py); views send them by name
        register(Kind.PIPELINE, task="pipeline.start", description="re-train, label and publish")
