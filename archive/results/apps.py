from django.apps import AppConfig


class ResultsConfig(AppConfig):
    name = "archive.results"
    label = "results"
    verbose_name = "Results"
