"""The marker that says a file is not survey data: the synthetic sky's.

:func:`labeling.synthetic.write_sky` writes every product with a ``synthetic_sky`` entry in its
header (the ECSV header's ``meta``, a FITS ``HIERARCH`` card) describing the sky (seed, number
of stars); :func:`labeling.io.read_header` gives it back among the header's ``params``. An ingest
records it, so the archive can tell from the data themselves that its stars are synthetic.
"""

from __future__ import annotations

from collections.abc import Mapping

#: header key (lower case, as :class:`labeling.io.TableHeader` gives keys)
SYNTHETIC_SKY = "synthetic_sky"


def synthetic_sky_marker(description: Mapping[str, object]) -> dict[str, dict[str, str]]:
    """Header metadata marking a file as part of the synthetic sky ``description``."""
    return {SYNTHETIC_SKY: {str(k): str(v) for k, v in description.items()}}


def is_synthetic_sky(params: Mapping[str, object]) -> bool:
    """Whether a file's header metadata carries the synthetic-sky marker."""
    return SYNTHETIC_SKY in {str(k).lower() for k in params}
