from django.apps import AppConfig


class CatalogueConfig(AppConfig):
    name = "archive.catalogue"
    label = "catalogue"
    verbose_name = "Catalogue"
