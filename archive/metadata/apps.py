from django.apps import AppConfig


class MetadataConfig(AppConfig):
    name = "archive.metadata"
    label = "metadata"
    verbose_name = "Metadata"
