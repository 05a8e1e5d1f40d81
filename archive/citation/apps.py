from django.apps import AppConfig


class CitationConfig(AppConfig):
    name = "archive.citation"
    label = "citation"
    verbose_name = "Citation and VO registry"
