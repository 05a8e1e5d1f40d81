from django.apps import AppConfig


class TapConfig(AppConfig):
    name = "archive.tap"
    label = "tap"
    verbose_name = "TAP"
