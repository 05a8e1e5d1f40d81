from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "archive.jobs"
    label = "jobs"
    verbose_name = "Jobs"

    def ready(self) -> None:
        from .kinds import Kind
        from .registry import register

        # tasks/jobs.py: the jobs layer end to end on a worker (operators' and tests' check)
        register(Kind.PROBE, task="jobs.probe", description="sleep in PostgreSQL, write a result")
