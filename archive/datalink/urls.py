"""URL map of DataLink, the products (mounted at /datalink/) and cone search (/scs)."""

from django.urls import path

from . import views

app_name = "datalink"

urlpatterns = [
    path("datalink/links", views.links, name="links"),
    path("datalink/spectra", views.spectra, name="spectra"),
    path("datalink/rvs/<str:ident>", views.rvs, name="rvs"),
    path("datalink/xp/<str:ident>", views.xp, name="xp"),
    path("scs", views.cone_search, name="scs"),
]
