from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "archive.web"
    label = "web"
    verbose_name = "Web"
