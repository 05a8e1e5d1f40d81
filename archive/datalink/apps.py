from django.apps import AppConfig


class DatalinkConfig(AppConfig):
    name = "archive.datalink"
    label = "datalink"
    verbose_name = "DataLink, spectrum products and cone search"
