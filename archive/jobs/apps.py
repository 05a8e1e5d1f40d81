from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "archive.jobs"
    label = "jobs"
    verbose_name = "Jobs"
