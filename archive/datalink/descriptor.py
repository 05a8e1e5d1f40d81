"""The DataLink service descriptor a query result carries when it has a source_id column."""

from __future__ import annotations

from collections.abc import Sequence

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
