"""URL map of the bulk downloads (mounted at /exports/)."""

from django.urls import path

from . import views

app_name = "exports"

urlpatterns = [
    path("", views.index, name="index"),
    path("<str:version>/", views.version, name="version"),
    path("<str:version>/build", views.build, name="build"),
    path("<str:version>/<path:name>", views.export_file, name="file"),
]
