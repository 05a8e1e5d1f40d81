"""The TAP examples (DALI 1.1 Sect. 2.3): useful queries on the catalogue, each run by a test.

Served at ``/tap/examples`` as XHTML with RDFa (the vocabulary of
http://www.ivoa.net/rdf/examples), as TOPCAT and taplint read it; the query page offers them.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape

from django.conf import settings

from labeling.flags import CLEAN_FLAG


@dataclass(frozen=True)
class Example:
    id: str
    name: str
    description: str
    query: str  # {s}: the published schema


EXAMPLES = (
    Example(
        "cone",
        "Stars in a cone",
        "Labels of the stars within 2 degrees of a position (ICRS), on the sky index.",
        "SELECT source_id, ra, dec, teff, logg, m_h, alpha_m, flag_boundary\n"
        "FROM {s}.rvs_cnn\n"
        "WHERE 1 = CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', 10.0, 20.0, 2.0))",
    ),
    Example(
        "recommended",
        "The recommended sample",
        "Stars whose labels, G, parallax and spectrum all lie within the training sample "
        "(flag_boundary all zeros), as Guiglion et al. 2024 (Sect. 5) recommend.",
        "SELECT TOP 1000 source_id, teff, logg, m_h, alpha_m, fe_h, sigma_m_h\n"
        "FROM {s}.rvs_cnn\nWHERE flag_boundary = '" + CLEAN_FLAG + "'\nORDER BY sigma_m_h",
    ),
    Example(
        "flag-statistics",
        "How many stars have each flag_boundary",
        "The share of each 8-digit flag (Teff, log g, [M/H], [alpha/M], [Fe/H], G, parallax, "
        "t-SNE; 1: outside the training sample).",
        "SELECT flag_boundary, COUNT(*) AS n\nFROM {s}.rvs_cnn\n"
        "GROUP BY flag_boundary\nORDER BY n DESC",
    ),
    Example(
        "kiel",
        "A Kiel diagram, binned",
        "Star counts in bins of 100 K in Teff and 0.1 dex in log g.",
        "SELECT teff_bin, logg_bin, COUNT(*) AS n\nFROM (SELECT FLOOR(teff / 100) * 100 AS "
        "teff_bin, FLOOR(logg * 10) / 10 AS logg_bin\n      FROM {s}.rvs_cnn) AS b\n"
        "GROUP BY teff_bin, logg_bin",
    ),
    Example(
        "alpha-rich",
        "Alpha-rich, metal-poor stars",
        "The high-[alpha/M] sequence of the [alpha/M]-[M/H] plane (the thick disc).",
        "SELECT TOP 1000 source_id, m_h, alpha_m, sigma_m_h, sigma_alpha_m\n"
        "FROM {s}.rvs_cnn\nWHERE alpha_m > 0.2 AND m_h < -0.5 AND flag_boundary = '"
        + CLEAN_FLAG
        + "'",
    ),
    Example(
        "metal-poor-giants",
        "Metal-poor giants",
        "Giants below [M/H] = -1.5, most metal-poor first.",
        "SELECT TOP 500 source_id, teff, logg, m_h, sigma_m_h\nFROM {s}.rvs_cnn\n"
        "WHERE logg < 2.5 AND m_h < -1.5\nORDER BY m_h",
    ),
    Example(
        "with-gaia",
        "Labels with Gaia photometry and S/N",
        "The catalogue joined to the Gaia DR3 columns of the same stars.",
        "SELECT TOP 1000 c.source_id, c.teff, c.m_h, g.phot_g_mean_mag, g.parallax, "
        "g.rvs_spec_sig_to_noise\nFROM {s}.rvs_cnn AS c\n"
        "JOIN {s}.gaia_source AS g ON g.source_id = c.source_id\n"
        "WHERE g.rvs_spec_sig_to_noise > 50",
    ),
    Example(
        "precise",
        "Precise metallicities",
        "Stars whose total [M/H] uncertainty sigma_m_h is below 0.05 dex.",
        "SELECT TOP 1000 source_id, m_h, sigma_m_h, e_m_h\nFROM {s}.rvs_cnn\n"
        "WHERE sigma_m_h < 0.05",
    ),
    Example(
        "mean-by-snr",
        "Uncertainty against S/N",
        "Mean sigma_m_h in bins of the RVS signal-to-noise ratio.",
        "SELECT snr_bin, AVG(sigma_m_h) AS mean_sigma_m_h, COUNT(*) AS n\n"
        "FROM (SELECT FLOOR(g.rvs_spec_sig_to_noise / 10) * 10 AS snr_bin, c.sigma_m_h\n"
        "      FROM {s}.rvs_cnn AS c JOIN {s}.gaia_source AS g ON g.source_id = c.source_id"
        ") AS b\nGROUP BY snr_bin",
    ),
    Example(
        "sky-density",
        "Stars per HEALPix cell",
        "Star counts in the HEALPix cells of order 5 (NESTED, about 1.8 degrees across), with "
        "each cell's centre: a sky map (ivo_healpix_index, ivo_healpix_center).",
        "SELECT hpx, ivo_healpix_center(5, hpx) AS centre, n\n"
        "FROM (SELECT hpx, COUNT(*) AS n\n"
        "      FROM (SELECT ivo_healpix_index(5, ra, dec) AS hpx FROM {s}.rvs_cnn) AS s\n"
        "      GROUP BY hpx) AS cells",
    ),
    Example(
        "teff-histogram",
        "A histogram of Teff in one row",
        "Teff counted in 40 bins of 100 K from 3000 to 7000 K (gavo_histogram: the first of "
        "the 42 counts is below 3000 K, the last at or above 7000 K).",
        "SELECT gavo_histogram(teff, 3000, 7000, 40) AS counts\nFROM {s}.rvs_cnn",
    ),
    Example(
        "versions",
        "The model versions",
        "Every ready model version and which one the catalogue publishes.",
        "SELECT model_version, created_at, inputs, n_splits, n_members, is_published\n"
        "FROM {s}.model_versions",
    ),
    Example(
        "compare-versions",
        "One star in every version",
        "The labels each ready model version gives the first stars of the catalogue.",
        "SELECT v.model_version, v.source_id, v.teff, v.logg, v.m_h\n"
        "FROM {s}.rvs_cnn_versions AS v\n"
        "WHERE v.source_id IN (SELECT TOP 3 source_id FROM {s}.rvs_cnn ORDER BY source_id)",
    ),
    Example(
        "training",
        "The training sample against the CNN",
        "APOGEE DR17 labels of the training stars beside the published CNN labels.",
        "SELECT TOP 1000 t.source_id, t.apogee_teff, c.teff, t.apogee_m_h, c.m_h, "
        "t.validation_splits\nFROM {s}.training_sample AS t\n"
        "JOIN {s}.rvs_cnn AS c ON c.source_id = t.source_id "
        "AND c.model_version = t.model_version",
    ),
    Example(
        "columns",
        "The columns of the catalogue",
        "Units, UCDs and descriptions, from TAP_SCHEMA.",
        "SELECT column_name, datatype, unit, ucd, description\nFROM TAP_SCHEMA.columns\n"
        "WHERE table_name = '{s}.rvs_cnn'\nORDER BY column_index",
    ),
)


def queries() -> list[tuple[Example, str]]:
    schema = settings.PUBLISHED_SCHEMA
    return [(e, e.query.format(s=schema)) for e in EXAMPLES]


def document() -> bytes:
    """XHTML+RDFa of the examples."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<html xmlns="http://www.w3.org/1999/xhtml"><head><title>TAP examples of RVS-CNN '
        "Archive</title></head>\n"
        '<body vocab="http://www.ivoa.net/rdf/examples#"><h1>TAP examples</h1>\n'
    ]
    for example, query in queries():
        parts.append(
            f'<div typeof="example" id="{example.id}" resource="#{example.id}">'
            f'<h2 property="name">{escape(example.name)}</h2>'
            f"<p>{escape(example.description)}</p>"
            f'<pre property="query">{escape(query)}</pre></div>\n'
        )
    parts.append("</body></html>\n")
    return "".join(parts).encode()
