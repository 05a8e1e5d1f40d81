"""The DataLink service descriptor a query result carries when it has a source_id column, and the
site address its access URL is built on.

A sync result takes the address from its request; an async one (TAP or the web query page) is
written by a worker, which has no request: the job keeps the address of the request that created
it (``Job.site_url``). ``RVS_PUBLIC_URL``, when set, overrides both (a proxy in front of the site
that does not pass the public host on).
"""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings
from django.http import HttpRequest
from django.urls import get_script_prefix, reverse

from archive.metadata.fields import VOField
from archive.results.votable import ServiceDescriptor

STANDARD_ID = "ivo://ivoa.net/std/DataLink#links-1.1"


def descriptors_for(fields: Sequence[VOField], links_url: str) -> list[ServiceDescriptor]:
    """[the DataLink descriptor] when a field is named source_id (any case), else []."""
    column = next((f.name for f in fields if f.name.lower() == "source_id"), None)
    if column is None:
        return []
    return [
        ServiceDescriptor(
            id="datalink_source_id",
            access_url=links_url,
            standard_id=STANDARD_ID,
            inputs=(("ID", column),),
            description="Links of each row's source: its RVS mean spectrum, XP coefficients, "
            "APOGEE labels (training stars) and the validation report",
        )
    ]


def site_url(request: HttpRequest) -> str:
    """The site's address as the client reached it: scheme, host and script prefix, without
    the trailing slash."""
    return request.build_absolute_uri(get_script_prefix()).rstrip("/")


def links_url(site: str) -> str:
    """The DataLink links endpoint under the site address ``site`` (from :func:`site_url`);
    works in a worker too, whose own script prefix is not the site's."""
    path = reverse("datalink:links").removeprefix(get_script_prefix())
    return f"{site.rstrip('/')}/{path}"


def datalink_descriptors(fields: Sequence[VOField], site: str) -> list[ServiceDescriptor]:
    """The descriptors of a result with ``fields`` served from the site at ``site`` (or at
    RVS_PUBLIC_URL when set); none when the address is unknown (a job created before jobs kept
    it, and no RVS_PUBLIC_URL)."""
    site = settings.RVS_PUBLIC_URL or site
    return descriptors_for(fields, links_url(site)) if site else []
