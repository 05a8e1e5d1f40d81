from django.urls import path

from . import views

app_name = "citation"
urlpatterns = [
    path("versions/", views.versions, name="versions"),
    path("versions/<str:name>/", views.version, name="version"),
    path("versions/<str:name>/citation.<str:suffix>", views.citation_file, name="file"),
    path("oai", views.oai_pmh, name="oai"),
]
