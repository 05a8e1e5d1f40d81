from django.urls import path

from . import views

app_name = "ops"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("runs/<int:pk>/", views.run_detail, name="run"),
    path("runs/<int:pk>.json", views.run_json, name="run-json"),
    path("runs/<int:pk>/cancel", views.run_cancel, name="run-cancel"),
    path("runs/<int:pk>/resume", views.run_resume, name="run-resume"),
    path("versions/<int:pk>/publish", views.version_publish, name="publish"),
    path("versions/<int:pk>/delete", views.version_delete, name="delete"),
    path("versions/rollback", views.version_rollback, name="rollback"),
    path("versions/compare", views.version_compare, name="compare"),
    path("versions/<int:pk>/report/", views.version_report, name="report"),
    path("versions/<int:pk>/report/<path:name>", views.version_report, name="report-file"),
]
