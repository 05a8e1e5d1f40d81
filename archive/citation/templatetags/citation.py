"""``{% how_to_cite %}``: the short "how to cite" box of the star page and the search results."""

from django import template

from archive.catalogue.counts import published_version

from ..record import citation
from ..views import site_url

register = template.Library()


@register.inclusion_tag("citation/_how_to_cite.html", takes_context=True)
def how_to_cite(context) -> dict:
    version = published_version()
    if version is None:
        return {"citation": None}
    return {"citation": citation(version, site_url(context["request"]), provenance=False)}
