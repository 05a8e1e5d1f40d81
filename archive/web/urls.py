from django.urls import path

from . import query_views, search_views, star_views, table_views, views

app_name = "web"
urlpatterns = [
    path("", views.home, name="home"),
    path("plots/<str:name>.png", views.overview_plot, name="overview-plot"),
    path("validation/", views.validation_report, name="validation"),
    path("validation/<path:name>", views.validation_report, name="validation-file"),
    path("search/", search_views.search, name="search"),
    path("search/download", search_views.download, name="search-download"),
    path("search/plot.png", search_views.plot, name="search-plot"),
    path("star/<int:source_id>/", star_views.star, name="star"),
    path("star/<int:source_id>/spectrum.png", star_views.spectrum_png, name="star-spectrum"),
    path("star/<int:source_id>/planes.png", star_views.planes_png, name="star-planes"),
    path("query/", query_views.query_page, name="query"),
    path("query/jobs/<str:job_id>/", query_views.job_page, name="job"),
    path("query/jobs/<str:job_id>/status", query_views.job_status, name="job-status"),
    path("query/jobs/<str:job_id>/plot.png", query_views.job_plot, name="job-plot"),
    path("query/jobs/<str:job_id>/download", query_views.job_download, name="job-download"),
    path("query/jobs/<str:job_id>/delete", query_views.job_delete, name="job-delete"),
    path("query/tables/", table_views.save, name="table-save"),
    path("query/tables/<str:name>/share", table_views.share, name="table-share"),
    path("query/tables/<str:name>/delete", table_views.delete, name="table-delete"),
]
