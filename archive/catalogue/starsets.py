"""From the catalogue tables to the arrays ``labeling`` works on: selection columns, StarSets.

Everything is read with binary COPY parsed by numpy (archive/pgcopy.py), in source_id order,
so a million stars come out in seconds and nothing goes through per-row Python. Nullable
columns travel as a value plus an ``IS NULL`` flag and come back as masked arrays, which
``labeling.selection`` treats as missing.
"""

from __future__ import annotations

import numpy as np
from django.db import connection, models

from archive.pgcopy import iter_copy_out
from labeling.dataset import StarSet, StoreSpectra
from labeling.io import ALLSTAR_FLOATS
from labeling.spectrum_store import SpectrumStore

from .models import GaiaSource
from .spectra import get_store

# gaia_source columns for the selection, read off the model: every number and every flag
_GAIA_FLOATS = tuple(
    f.column for f in GaiaSource._meta.concrete_fields if isinstance(f, models.FloatField)
)
_GAIA_BOOLS = tuple(
    f.column for f in GaiaSource._meta.concrete_fields if isinstance(f, models.BooleanField)
)


def _collect(parts) -> dict[str, np.ndarray]:
    parts = list(parts)
    if not parts:
        return {}
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def selection_columns(id_range: tuple[int, int] | None = None) -> dict[str, np.ndarray]:
    """gaia_source columns for ``labeling.selection.select``, one row per star.

    Text flags arrive reduced to what the cuts test: ``phot_variable_flag`` is 'VARIABLE' or
    '', ``classlabel_espels`` a class name or ''. ``has_rvs``/``has_xp`` say whether a spectrum
    and XP coefficients (both bands) are stored.
    """
    where = ""
    if id_range is not None:
        where = f"WHERE g.source_id BETWEEN {int(id_range[0])} AND {int(id_range[1])}"
    select = ["g.source_id"]
    spec: list[tuple[str, str, int]] = [("source_id", "int8", 1)]
    for name in _GAIA_FLOATS:
        select.append(f"coalesce(g.{name}, 'NaN')")
        spec.append((name, "float8", 1))
    select.append("coalesce(g.non_single_star, 0)::int2, g.non_single_star IS NULL")
    spec += [("non_single_star", "int2", 1), ("non_single_star__null", "bool", 1)]
    for name in _GAIA_BOOLS:
        select.append(f"coalesce(g.{name}, false), g.{name} IS NULL")
        spec += [(name, "bool", 1), (f"{name}__null", "bool", 1)]
    select += [
        "g.phot_variable_flag = 'VARIABLE'",
        "g.classlabel_espels <> ''",
        "EXISTS (SELECT 1 FROM rvs_spectrum r WHERE r.source_id = g.source_id)",
        "EXISTS (SELECT 1 FROM xp_coefficients x WHERE x.source_id = g.source_id "
        "AND x.bp_coefficients IS NOT NULL AND x.rp_coefficients IS NOT NULL)",
    ]
    spec += [
        ("variable", "bool", 1),
        ("emission", "bool", 1),
        ("has_rvs", "bool", 1),
        ("has_xp", "bool", 1),
    ]
    query = f"SELECT {', '.join(select)} FROM gaia_source g {where} ORDER BY g.source_id"
    with connection.cursor() as cur:
        cols = _collect(iter_copy_out(cur, query, spec))
    if not cols:
        return {}
    out = {"source_id": cols["source_id"]}
    for name in _GAIA_FLOATS:
        out[name] = cols[name]
    for name in ("non_single_star", *_GAIA_BOOLS):
        out[name] = np.ma.MaskedArray(cols[name], mask=cols[f"{name}__null"])
    out["phot_variable_flag"] = np.where(cols["variable"], "VARIABLE", "")
    out["classlabel_espels"] = np.where(cols["emission"], "emission", "")
    out["has_rvs"] = cols["has_rvs"]
    # a star needs both XP bands to feed the CNN (Sect. 3.1)
    out["has_xp_continuous"] = np.ma.MaskedArray(
        cols["has_xp_continuous"] & cols["has_xp"], mask=cols["has_xp_continuous__null"]
    )
    return out


def apogee_columns() -> dict[str, np.ndarray]:
    """apogee_label as allStar-named columns (upper case) for ``labeling.selection.select``."""
    select = ["coalesce(source_id, 0)", "aspcapflag", "fe_h_flag"]
    spec = [("GAIAEDR3_SOURCE_ID", "int8", 1), ("ASPCAPFLAG", "int8", 1), ("FE_H_FLAG", "int4", 1)]
    for name in ALLSTAR_FLOATS:
        select.append(f"coalesce({name.lower()}, 'NaN')")
        spec.append((name, "float8", 1))
    query = f"SELECT {', '.join(select)} FROM apogee_label ORDER BY id"
    with connection.cursor() as cur:
        return _collect(iter_copy_out(cur, query, spec)) or {n: np.empty(0) for n, _, _ in spec}


def load_star_set(
    source_ids: np.ndarray,
    labels: np.ndarray | None = None,
    store: SpectrumStore | None = None,
    label_errors: np.ndarray | None = None,
) -> StarSet:
    """The CNN inputs of the given stars (which must have spectrum and both XP bands).

    Spectra stay in the store: the StarSet reads them batch by batch by reference.
    """
    source_ids = np.asarray(source_ids, dtype=np.int64)
    order = np.argsort(source_ids)
    with connection.cursor() as cur:
        cur.execute(
            "SELECT DISTINCT store_array FROM rvs_spectrum r WHERE r.source_id = ANY(%s)",
            [source_ids.tolist()],
        )
        segments = np.array(sorted(r[0] for r in cur.fetchall()), dtype=object)
        query = (
            "SELECT g.source_id, coalesce(g.phot_g_mean_mag, 'NaN'), "
            "coalesce(g.phot_bp_mean_mag, 'NaN'), coalesce(g.phot_rp_mean_mag, 'NaN'), "
            "coalesce(g.parallax, 'NaN'), coalesce(g.rvs_spec_sig_to_noise, 'NaN'), "
            "array_position(%s::text[], r.store_array)::int2, r.store_row, "
            "x.bp_coefficients || x.rp_coefficients "
            "FROM unnest(%s::bigint[]) AS s(id) "
            "JOIN gaia_source g ON g.source_id = s.id "
            "JOIN rvs_spectrum r ON r.source_id = s.id "
            "JOIN xp_coefficients x ON x.source_id = s.id ORDER BY g.source_id"
        )
        query = cur.mogrify(query, [segments.tolist(), source_ids.tolist()])
        spec = [
            ("source_id", "int8", 1),
            ("g", "float8", 1),
            ("bp", "float8", 1),
            ("rp", "float8", 1),
            ("parallax", "float8", 1),
            ("snr", "float8", 1),
            ("segment", "int2", 1),
            ("row", "int8", 1),
            ("xp", "float8[]", 110),
        ]
        cols = _collect(iter_copy_out(cur, query, spec))
    if not cols or len(cols["source_id"]) != len(source_ids):
        found = cols["source_id"] if cols else np.empty(0, np.int64)
        lacking = np.setdiff1d(source_ids, found)
        raise ValueError(
            f"{lacking.size} of {len(source_ids)} stars lack photometry, a spectrum or XP "
            f"coefficients: {_what_is_missing(lacking[:10])}"
            + (f" and {lacking.size - 10} more" if lacking.size > 10 else "")
        )
    # rows came sorted by source_id; put them back in the caller's order
    take = np.empty_like(order)
    take[order] = np.arange(order.size)
    return StarSet(
        source_id=cols["source_id"][take],
        spectra=StoreSpectra(
            store or get_store(), segments[cols["segment"][take] - 1], cols["row"][take]
        ),
        phot=np.stack([cols[k][take] for k in ("g", "bp", "rp", "parallax")], axis=1),
        xp=cols["xp"][take],
        snr=cols["snr"][take],
        labels=labels,
        label_errors=label_errors,
    )


def _what_is_missing(source_ids: np.ndarray) -> str:
    """'source_id (no gaia_source / rvs_spectrum / xp_coefficients row)', for an error."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT s.id, g.source_id IS NULL, r.source_id IS NULL, x.source_id IS NULL "
            "FROM unnest(%s::bigint[]) AS s(id) "
            "LEFT JOIN gaia_source g ON g.source_id = s.id "
            "LEFT JOIN rvs_spectrum r ON r.source_id = s.id "
            "LEFT JOIN xp_coefficients x ON x.source_id = s.id ORDER BY s.id",
            [source_ids.tolist()],
        )
        tables = ("gaia_source", "rvs_spectrum", "xp_coefficients")
        return ", ".join(
            f"{sid} (no {' / '.join(t for t, gone in zip(tables, row, strict=True) if gone)} row)"
            for sid, *row in cur.fetchall()
        )
