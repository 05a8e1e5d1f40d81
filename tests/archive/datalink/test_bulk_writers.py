"""The bulk spectra writers without the service: a failure after the first batch still closes
the VOTable with an ERROR status that a client reads, after the rows already sent."""

import io

import numpy as np
import pytest
from astropy.io.votable import parse

from archive.datalink import bulk
from archive.datalink.bulk_query import _empty


def test_a_votable_cut_midway_ends_with_query_status_error():
    def failing():
        batch = _empty(2)
        batch.source_id[:] = [1, 2]
        batch.error[:] = ["", "no source 2 in this archive"]
        yield batch
        raise OSError("the store went away")

    parts = []
    with pytest.raises(OSError):
        for part in bulk.write_votable(failing(), 4):
            parts.append(part)
    vot = parse(io.BytesIO(b"".join(parts)))
    table = vot.get_first_table().to_table()
    assert list(table["source_id"]) == [1, 2] and table["flux"].shape == (2, 2401)
    assert np.isnan(np.asarray(table["flux"], dtype=float)).all()
    statuses = [i for i in vot.resources[0].infos if i.name == "QUERY_STATUS"]
    assert [s.value for s in statuses] == ["OK", "ERROR"]
    assert "the store went away" in statuses[-1].content
