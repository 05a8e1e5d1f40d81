from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "archive.ops"
    label = "ops"
    verbose_name = "Operations"
