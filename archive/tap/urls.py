"""URL map of the TAP service (mounted at /tap/)."""

from django.urls import path

from . import personal_views, views

app_name = "tap"

urlpatterns = [
    path("", views.root, name="root"),
    path("sync", views.sync, name="sync"),
    path("async", views.async_jobs, name="async"),
    path("async/<str:job_id>", views.job, name="job"),
    path("async/<str:job_id>/phase", views.job_phase, name="phase"),
    path("async/<str:job_id>/parameters", views.job_parameters, name="parameters"),
    path(
        "async/<str:job_id>/executionduration",
        views.job_execution_duration,
        name="executionduration",
    ),
    path("async/<str:job_id>/destruction", views.job_destruction, name="destruction"),
    path("async/<str:job_id>/quote", views.job_quote, name="quote"),
    path("async/<str:job_id>/owner", views.job_owner, name="owner"),
    path("async/<str:job_id>/error", views.job_error, name="error"),
    path("async/<str:job_id>/results", views.job_results, name="results"),
    path("async/<str:job_id>/results/<str:result_id>", views.job_result, name="result"),
    path("async/<path:rest>", views.unknown, name="async-unknown"),
    path("availability", views.availability, name="availability"),
    path("capabilities", views.capabilities, name="capabilities"),
    path("tables", views.tables, name="tables"),
    path("tables/<str:name>", views.table, name="table"),
    path("examples", views.examples_view, name="examples"),
    path("user_tables", personal_views.user_tables, name="user_tables"),
    path("user_tables/<str:name>", personal_views.user_table, name="user_table"),
    path("user_tables/<str:name>/share", personal_views.share, name="user_table_share"),
]
