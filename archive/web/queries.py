"""The SQL behind the public pages: searches (as ADQL, through the TAP service's path), a star's
rows, the catalogue's numbers for the overview plots. Views call these and render."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
import psycopg
from django.conf import settings
from django.db import connections

from archive.catalogue.models import ModelVersion, XpCoefficients
from archive.errors import ArchiveError
from archive.metadata.fields import VOField
from archive.replicas import read_alias
from archive.results.query import archive_error
from archive.tap.service import PreparedQuery, prepare_adql, reader_connection
from labeling.flags import CLEAN_FLAG, FLAG_LENGTH
from labeling.labels import LABELS

from .search import Search

#: rows drawn for the overview plots (a uniform sample when the catalogue is larger)
PLOT_SAMPLE = 200_000


@dataclass(frozen=True)
class Page:
    fields: list[VOField]
    rows: list[tuple]
    total: int
    adql: str


def run_search(search: Search, page: int, per_page: int, timeout_s: int, cap: int) -> Page:
    """One page of a search and the number of rows it matches (up to ``cap`` + 1);
    ArchiveError if it fails."""
    conn = reader_connection(timeout_s)
    try:
        counted = _translated(search.count_adql(cap))
        with conn.cursor() as cur:
            cur.execute(counted.sql)
            total = cur.fetchone()[0]
        # the whole search translated once (and kept): its pages are its SQL with LIMIT/OFFSET,
        # which is what TOP/OFFSET in the ADQL translate to
        prepared = _translated(search.adql())
        with conn.cursor() as cur:
            cur.execute(f"{prepared.sql} LIMIT {int(per_page)} OFFSET {int((page - 1) * per_page)}")
            rows = cur.fetchall()
    except psycopg.Error as exc:
        raise archive_error(exc) from exc
    return Page(list(prepared.fields or []), rows, total, search.adql())


def missing_ids(search: Search, timeout_s: int) -> list[int]:
    """The source_ids of the search's list that the published catalogue does not hold, in the
    order given (the page names them: a list of 2 IDs giving 1 row says which one is absent)."""
    if not search.source_ids:
        return []
    ids = ", ".join(map(str, search.source_ids))
    adql = (
        f"SELECT r.source_id FROM {settings.PUBLISHED_SCHEMA}.rvs_cnn AS r "
        f"WHERE r.source_id IN ({ids})"
    )
    try:
        with reader_connection(timeout_s).cursor() as cur:
            cur.execute(_translated(adql).sql)
            found = {row[0] for row in cur.fetchall()}
    except psycopg.Error as exc:
        raise archive_error(exc) from exc
    return [i for i in search.source_ids if i not in found]


#: rows a search's quick plot draws at most (the first ones in the search's order)
QUICK_PLOT_ROWS = 200_000


def search_columns(
    search: Search, names: Sequence[str], timeout_s: int, limit: int = QUICK_PLOT_ROWS
) -> list[np.ndarray]:
    """The values of ``names`` (numeric quantities) over the search's first ``limit`` rows,
    one float array per name, NULL as NaN; ArchiveError if it fails."""
    prepared = _translated(replace(search, columns=tuple(names)).adql())
    conn = reader_connection(timeout_s)
    try:
        with conn.cursor() as cur:
            cur.execute(f"{prepared.sql} LIMIT {int(limit)}")
            rows = cur.fetchall()
    except psycopg.Error as exc:
        raise archive_error(exc) from exc
    data = np.array(rows, dtype=float).reshape(len(rows), len(names))
    return [data[:, i] for i in range(len(names))]


@lru_cache(maxsize=256)
def _translated(adql: str) -> PreparedQuery:
    """ADQL translated, kept by its text: paging or re-sorting a search translates nothing."""
    return prepare_adql(adql)


# --- one star ---------------------------------------------------------------------------------


def _dicts(cur) -> list[dict]:
    names = [d.name for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def star(source_id: int) -> dict | None:
    """Everything the star page shows but the spectrum; None if the catalogue lacks the star."""
    schema = settings.PUBLISHED_SCHEMA
    with connections[read_alias()].cursor() as cur:
        cur.execute(f"SELECT * FROM {schema}.gaia_source WHERE source_id = %s", [source_id])
        gaia = _dicts(cur)
        if not gaia:
            return None
        cur.execute(f"SELECT * FROM {schema}.rvs_cnn WHERE source_id = %s", [source_id])
        published = _dicts(cur)
        cur.execute(
            f"SELECT l.*, v.is_published, v.created_at FROM {schema}.rvs_cnn_versions l "
            "JOIN public.model_version v ON v.name = l.model_version "
            "WHERE l.source_id = %s ORDER BY v.is_published DESC, v.created_at DESC",
            [source_id],
        )
        versions = _dicts(cur)
        cur.execute(
            f"SELECT t.* FROM {schema}.training_sample t "
            "JOIN public.model_version v ON v.name = t.model_version "
            "WHERE t.source_id = %s ORDER BY v.is_published DESC, v.created_at DESC",
            [source_id],
        )
        training = _dicts(cur)
        cur.execute("SELECT 1 FROM public.rvs_spectrum WHERE source_id = %s", [source_id])
        has_spectrum = cur.fetchone() is not None
    xp = XpCoefficients.objects.filter(source_id=source_id).first()
    return {
        "gaia": gaia[0],
        "labels": published[0] if published else None,
        "versions": versions,
        "training": training,
        "has_spectrum": has_spectrum,
        "xp": xp,
    }


# --- the catalogue, for the overview plots ------------------------------------------------------


def catalogue_sample(version: ModelVersion, limit: int = PLOT_SAMPLE) -> dict[str, np.ndarray]:
    """Labels, S/N and flags of the version's stars (a random sample above ``limit``)."""
    with connections[read_alias()].cursor() as cur:
        cur.execute("SELECT count(*) FROM cnn_label WHERE model_version_id = %s", [version.pk])
        n = cur.fetchone()[0]
        # TABLESAMPLE keeps the plots' cost flat on a large catalogue
        sample = (
            f"TABLESAMPLE SYSTEM ({min(100.0, 100.0 * 1.2 * limit / n):.6f})" if n > limit else ""
        )
        cols = ", ".join(f"l.{k}" for k in LABELS)
        cur.execute(
            f"SELECT {cols}, g.rvs_spec_sig_to_noise, l.flag_boundary "
            f"FROM cnn_label l {sample} JOIN gaia_source g ON g.source_id = l.source_id "
            "WHERE l.model_version_id = %s LIMIT %s",
            [version.pk, limit],
        )
        rows = cur.fetchall()
    out = {k: np.array([r[i] for r in rows], dtype=float) for i, k in enumerate(LABELS)}
    at = len(LABELS)
    out["snr"] = np.array([np.nan if r[at] is None else r[at] for r in rows], dtype=float)
    out["flags"] = np.array([r[at + 1] for r in rows], dtype=f"U{FLAG_LENGTH}")
    out["n"] = np.array(n)
    return out


def flag_shares(version: ModelVersion) -> list[float]:
    """Share of the version's stars with each flag_boundary digit set, and with none (0..1)."""
    digits = ", ".join(
        f"avg((substr(flag_boundary, {i + 1}, 1) = '1')::int)" for i in range(FLAG_LENGTH)
    )
    with connections[read_alias()].cursor() as cur:
        cur.execute(
            f"SELECT {digits}, avg((flag_boundary = %s)::int) "
            "FROM cnn_label WHERE model_version_id = %s",
            [CLEAN_FLAG, version.pk],
        )
        row = cur.fetchone()
    return [float(x or 0.0) for x in row]


def safe(call, *args, **kwargs):
    """(value, None) or (None, the ArchiveError's message)."""
    try:
        return call(*args, **kwargs), None
    except ArchiveError as exc:
        return None, exc.message
