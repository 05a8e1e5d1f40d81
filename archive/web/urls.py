from django.urls import path

from . import views

app_name = "web"
urlpatterns = [
    path("", views.home, name="home"),
    path("validation/", views.validation_report, name="validation"),
    path("validation/<path:name>", views.validation_report, name="validation-file"),
]
