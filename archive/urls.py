"""URL map of the archive: one include per app."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("ops/", include("archive.ops.urls")),
    path("tap/", include("archive.tap.urls")),
    path("accounts/", include("archive.accounts.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("archive.datalink.urls")),
    path("exports/", include("archive.exports.urls")),
    path("", include("archive.citation.urls")),
    path("", include("archive.web.urls")),
]
