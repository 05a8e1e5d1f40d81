"""The DataLink service descriptor in VOTable results: only where a source_id column is, its ID
parameter referring to that FIELD, in both serializations; other formats unchanged."""

import io

import pytest
from astropy.io.votable import parse

from archive.results.descriptor import STANDARD_ID, descriptors_for
from archive.results.stream import stream_result

pytestmark = pytest.mark.django_db
LINKS = "http://archive.example/datalink/links"
SQL = "SELECT 4268620287278693120::bigint AS source_id, 1.5::float8 AS teff"


@pytest.mark.parametrize("fmt", ["votable", "votable/td"])
def test_votable_carries_the_descriptor(reader_conn, fmt):
    from archive.results.columns import describe

    with reader_conn.cursor() as cur:
        fields = describe(cur, SQL)
    descriptors = descriptors_for(fields, LINKS)
    body = b"".join(stream_result(reader_conn, SQL, fields, fmt, None, descriptors))
    vot = parse(io.BytesIO(body))
    meta = [r for r in vot.resources if r.type == "meta"]
    assert len(meta) == 1 and meta[0].utype == "adhoc:service"
    params = {p.name: p for p in meta[0].params}
    assert params["standardID"].value == STANDARD_ID and params["accessURL"].value == LINKS
    (id_param,) = meta[0].groups[0].entries
    table = vot.get_first_table()
    assert id_param.name == "ID" and table.get_field_by_id(id_param.ref).name == "source_id"
    assert table.array["source_id"][0] == 4268620287278693120


def test_no_source_id_no_descriptor_and_other_formats_unchanged(reader_conn):
    from archive.metadata.fields import VOField

    assert descriptors_for([VOField("teff", "double")], LINKS) == []
    fields = [VOField("source_id", "long"), VOField("teff", "double")]
    plain = b"".join(stream_result(reader_conn, SQL, fields, "csv"))
    linked = b"".join(
        stream_result(reader_conn, SQL, fields, "csv", None, descriptors_for(fields, LINKS))
    )
    assert plain == linked == b"source_id,teff\n4268620287278693120,1.5\n"
