"""Training and observed samples: the cuts of Guiglion et al. 2024, Sect. 2.1-2.5, as data.

Every cut is a :class:`Cut`: a name, the paper section, a description with the paper's
threshold, the columns it reads and a vectorised predicate returning a keep-mask. The three
lists :data:`GAIA_CUTS`, :data:`APOGEE_CUTS` and :data:`TRAINING_CUTS` are applied in order by
:func:`select`, which works on whole columns (numpy arrays, e.g. pulled from PostgreSQL) without
per-row Python:

* **Gaia cuts** (every star, Sect. 2.1-2.3): the stars that pass form the paper's working sample.
* **APOGEE match** (Sect. 2.4): allStar rows joined on ``GAIAEDR3_SOURCE_ID`` = ``source_id``;
  rows with no Gaia id (``<= 0``) or an id outside ``gaia`` are ignored. **Duplicates**: when a
  star has several rows (other TELESCOPE/FIELD), the row with the highest APOGEE ``SNR`` is kept
  (NaN SNR ranks lowest; ties go to the earlier row) and the others are dropped *before* the
  APOGEE cuts, as in the paper's order (match, de-duplicate, then flags). A star whose best row
  fails a cut is therefore not rescued by a worse row.
* **APOGEE cuts** (Sect. 2.4) on the kept row, then the **training-only cuts** (Sect. 2.5).

Training sample = Gaia cuts ∧ APOGEE match ∧ APOGEE cuts ∧ training cuts; observed sample =
every other star that passes the Gaia cuts (no APOGEE row, or a row or star failing a later cut).

Missing values (NaN floats, ``None`` in object arrays, masked entries of ``numpy.ma`` arrays):
a cut keeps a star only when every value it reads is present and satisfies the condition (the
SQL reading of ``WHERE x < 25``), with two deliberate exceptions where the paper's condition is
the *absence* of a flag: ``classlabel_espels`` null/empty keeps the star (no emission class),
and a missing ``phot_variable_flag`` keeps it (only ``'VARIABLE'`` is removed). Thresholds
are compared in the column's own precision, so a value equal to the threshold as stored (a
float32 ``ruwe`` of 1.4, a ``LOGG_ERR`` of 0.1) fails a strict inequality.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TextIO

import numpy as np

from .labels import APOGEE_COLUMNS, LABELS, PHOT_COLUMNS

Table = Mapping[str, np.ndarray]

#: ASPCAPFLAG bits the paper rejects on (Sect. 2.4)
STAR_WARN_BIT = 7
STAR_BAD_BIT = 23
#: column names of the APOGEE labels and errors, in :data:`LABELS` order
APOGEE_LABEL_COLUMNS: tuple[str, ...] = tuple(APOGEE_COLUMNS[k] for k in LABELS)
APOGEE_ERROR_COLUMNS: tuple[str, ...] = tuple(f"{c}_ERR" for c in APOGEE_LABEL_COLUMNS)
APOGEE_ID_COLUMN = "GAIAEDR3_SOURCE_ID"


# ----------------------------------------------------------------------- missing-value helpers


def _raw(table: Table, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(data, missing) of a column: masked entries, and ``None`` or NaN in object columns (as
    pandas leaves gaps in a string column), count as missing."""
    col = table[name]
    if isinstance(col, np.ma.MaskedArray):
        missing = np.ma.getmaskarray(col)
        data = col.data
    else:
        data = np.asarray(col)
        missing = np.zeros(data.shape, dtype=bool)
    if data.dtype == object:
        missing = missing | np.equal(data, None) | (data != data)  # NaN != NaN
    return data, missing


def _float(table: Table, name: str) -> np.ndarray:
    """A column as floats with NaN where missing, in its own precision (float32 stays float32).

    Keeping the precision makes a threshold compare in the column's precision (numpy ≥ 2 casts
    a Python float to the array's dtype): a float32 ``ruwe`` of 1.4 is not < 1.4.
    """
    data, missing = _raw(table, name)
    if data.dtype == object:
        data = np.where(missing, np.nan, data)
    out = data if data.dtype.kind == "f" else data.astype(np.float64)
    if missing.any():
        out = np.where(missing, np.nan, out)
    return out


def _int(table: Table, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(int64 values with 0 where missing, missing mask); NaN in a float column is missing."""
    data, missing = _raw(table, name)
    if data.dtype == object:
        data = np.where(missing, 0, data)
    if data.dtype.kind == "f":
        missing = missing | ~np.isfinite(data)
        data = np.where(missing, 0, data)
    return data.astype(np.int64), missing


def _bool(table: Table, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(bool values with False where missing, missing mask); text 'true'/'false' understood."""
    data, missing = _raw(table, name)
    if data.dtype.kind in "USO":
        text = np.char.lower(np.char.strip(_as_str(data, missing)))
        missing = missing | (text == "") | (text == "null")
        return (text == "true") | (text == "t") | (text == "1"), missing
    if data.dtype.kind == "f":
        missing = missing | np.isnan(data)
        data = np.where(missing, 0.0, data)
    return data.astype(bool) & ~missing, missing


def _as_str(data: np.ndarray, missing: np.ndarray) -> np.ndarray:
    if data.dtype.kind == "S":
        data = np.char.decode(data, "utf-8")
    if data.dtype == object:
        data = np.where(missing, "", data)
    return np.where(missing, "", data.astype(str))


def _str(table: Table, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(stripped str values with '' where missing, missing mask); '', 'null', NaN are missing."""
    data, missing = _raw(table, name)
    if data.dtype.kind == "f":  # an all-null text column read as float
        missing = missing | np.isnan(data)
        return np.where(missing, "", data.astype(str)), missing
    text = np.char.strip(_as_str(data, missing))
    missing = missing | (text == "") | (np.char.lower(text) == "null")
    return np.where(missing, "", text), missing


# ----------------------------------------------------------------------------------- the cuts


@dataclass(frozen=True)
class Cut:
    """One selection criterion of the paper.

    ``predicate(table)`` returns the keep-mask (True = the star passes) for a mapping of column
    name → 1-D array; it reads only :attr:`columns`.
    """

    name: str
    section: str
    description: str
    columns: tuple[str, ...]
    predicate: Callable[[Table], np.ndarray] = field(repr=False, compare=False)

    def keep(self, table: Table) -> np.ndarray:
        """The keep-mask, checked to be a boolean vector as long as the table."""
        missing = [c for c in self.columns if c not in table]
        if missing:
            raise KeyError(f"cut {self.name!r} needs column(s) {missing}")
        mask = np.asarray(self.predicate(table), dtype=bool)
        n = len(np.asarray(table[self.columns[0]]))
        if mask.shape != (n,):
            raise ValueError(f"cut {self.name!r} returned shape {mask.shape}, expected ({n},)")
        return mask


def _is_false(name: str) -> Callable[[Table], np.ndarray]:
    def pred(t: Table) -> np.ndarray:
        value, missing = _bool(t, name)
        return ~value & ~missing

    return pred


def _is_true(name: str) -> Callable[[Table], np.ndarray]:
    def pred(t: Table) -> np.ndarray:
        value, missing = _bool(t, name)
        return value & ~missing

    return pred


def _greater(name: str, threshold: float) -> Callable[[Table], np.ndarray]:
    def pred(t: Table) -> np.ndarray:
        return _float(t, name) > threshold  # NaN compares False: removed

    return pred


def _at_least(name: str, threshold: float) -> Callable[[Table], np.ndarray]:
    def pred(t: Table) -> np.ndarray:
        return _float(t, name) >= threshold

    return pred


def _less(name: str, threshold: float) -> Callable[[Table], np.ndarray]:
    def pred(t: Table) -> np.ndarray:
        return _float(t, name) < threshold

    return pred


def _int_equals_zero(name: str) -> Callable[[Table], np.ndarray]:
    def pred(t: Table) -> np.ndarray:
        value, missing = _int(t, name)
        return (value == 0) & ~missing

    return pred


def _not_variable(t: Table) -> np.ndarray:
    text, _ = _str(t, "phot_variable_flag")
    return np.char.upper(text) != "VARIABLE"


def _no_emission(t: Table) -> np.ndarray:
    _, missing = _str(t, "classlabel_espels")
    return missing


def _all_finite(*names: str) -> Callable[[Table], np.ndarray]:
    def pred(t: Table) -> np.ndarray:
        keep = np.ones(len(np.asarray(t[names[0]])), dtype=bool)
        for name in names:
            keep &= np.isfinite(_float(t, name))
        return keep

    return pred


def _bit_unset(name: str, bit: int) -> Callable[[Table], np.ndarray]:
    def pred(t: Table) -> np.ndarray:
        value, missing = _int(t, name)
        return ((value & (1 << bit)) == 0) & ~missing

    return pred


def _conditional_error(label: str, error: str) -> Callable[[Table], np.ndarray]:
    """error < 0.2 where label < −0.5, error < 0.1 where label ≥ −0.5 (NaN label: removed)."""

    def pred(t: Table) -> np.ndarray:
        value, err = _float(t, label), _float(t, error)
        limit = np.where(value < -0.5, 0.2, 0.1).astype(err.dtype)
        return np.isfinite(value) & (err < limit)

    return pred


def _parallax_over_error(t: Table) -> np.ndarray:
    plx, err = _float(t, "parallax"), _float(t, "parallax_error")
    with np.errstate(divide="ignore", invalid="ignore"):
        return (err > 0) & (plx / err > 5.0)


def _foe_cut(band: str) -> Cut:
    col = f"phot_{band}_mean_flux_over_error"
    return Cut(
        f"{band}_flux_over_error",
        "2.2",
        f"{col} > 500 (spurious {band.upper()} magnitudes)",
        (col,),
        _greater(col, 500.0),
    )


#: Cuts on every star (Sect. 2.1-2.3), plus the completeness of the CNN inputs.
GAIA_CUTS: tuple[Cut, ...] = (
    Cut(
        "has_rvs",
        "2.1",
        "has_rvs = True (a mean RVS spectrum exists)",
        ("has_rvs",),
        _is_true("has_rvs"),
    ),
    Cut(
        "not_galaxy",
        "2.1",
        "in_galaxy_candidates = False",
        ("in_galaxy_candidates",),
        _is_false("in_galaxy_candidates"),
    ),
    Cut(
        "not_qso",
        "2.1",
        "in_qso_candidates = False",
        ("in_qso_candidates",),
        _is_false("in_qso_candidates"),
    ),
    Cut(
        "not_variable",
        "2.1",
        "phot_variable_flag != 'VARIABLE' (null kept)",
        ("phot_variable_flag",),
        _not_variable,
    ),
    Cut(
        "single_star",
        "2.1",
        "non_single_star = 0",
        ("non_single_star",),
        _int_equals_zero("non_single_star"),
    ),
    Cut(
        "has_xp",
        "2.3",
        "has_xp_continuous = True (55 BP + 55 RP coefficients)",
        ("has_xp_continuous",),
        _is_true("has_xp_continuous"),
    ),
    Cut(
        "no_emission",
        "2.3",
        "classlabel_espels null/empty (no emission-line class)",
        ("classlabel_espels",),
        _no_emission,
    ),
    _foe_cut("g"),
    _foe_cut("bp"),
    _foe_cut("rp"),
    Cut("positive_parallax", "2.2", "parallax > 0 mas", ("parallax",), _greater("parallax", 0.0)),
    Cut(
        "photometry_present",
        "2.2",
        "G, G_BP, G_RP magnitudes finite (complete CNN inputs)",
        PHOT_COLUMNS[:3],
        _all_finite(*PHOT_COLUMNS[:3]),
    ),
)

#: Quality cuts on the APOGEE DR17 labels of the training sample (Sect. 2.4).
APOGEE_CUTS: tuple[Cut, ...] = (
    Cut(
        "star_warn",
        "2.4",
        f"ASPCAPFLAG bit {STAR_WARN_BIT} (STAR_WARN) unset",
        ("ASPCAPFLAG",),
        _bit_unset("ASPCAPFLAG", STAR_WARN_BIT),
    ),
    Cut(
        "star_bad",
        "2.4",
        f"ASPCAPFLAG bit {STAR_BAD_BIT} (STAR_BAD) unset",
        ("ASPCAPFLAG",),
        _bit_unset("ASPCAPFLAG", STAR_BAD_BIT),
    ),
    Cut("chi2", "2.4", "ASPCAP_CHI2 < 25", ("ASPCAP_CHI2",), _less("ASPCAP_CHI2", 25.0)),
    Cut("fe_h_flag", "2.4", "FE_H_FLAG = 0", ("FE_H_FLAG",), _int_equals_zero("FE_H_FLAG")),
    Cut("teff_err", "2.4", "TEFF_ERR < 100 K", ("TEFF_ERR",), _less("TEFF_ERR", 100.0)),
    Cut("logg_err", "2.4", "LOGG_ERR < 0.1 dex", ("LOGG_ERR",), _less("LOGG_ERR", 0.1)),
    Cut(
        "m_h_err",
        "2.4",
        "M_H_ERR < 0.2 if M_H < -0.5, < 0.1 if M_H >= -0.5 (dex)",
        ("M_H", "M_H_ERR"),
        _conditional_error("M_H", "M_H_ERR"),
    ),
    Cut(
        "fe_h_err",
        "2.4",
        "FE_H_ERR < 0.2 if FE_H < -0.5, < 0.1 if FE_H >= -0.5 (dex)",
        ("FE_H", "FE_H_ERR"),
        _conditional_error("FE_H", "FE_H_ERR"),
    ),
    Cut("alpha_m_err", "2.4", "ALPHA_M_ERR < 0.1 dex", ("ALPHA_M_ERR",), _less("ALPHA_M_ERR", 0.1)),
    # the paper removes "S/N < 70" (Sect. 2.4): a star at exactly 70 stays
    Cut("apogee_snr", "2.4", "APOGEE SNR >= 70", ("SNR",), _at_least("SNR", 70.0)),
    Cut(
        "labels_finite",
        "2.4",
        "TEFF, LOGG, M_H, ALPHA_M, FE_H all finite",
        APOGEE_LABEL_COLUMNS,
        _all_finite(*APOGEE_LABEL_COLUMNS),
    ),
)

#: Cuts applied to the training sample only (Sect. 2.5).
TRAINING_CUTS: tuple[Cut, ...] = (
    Cut(
        "rvs_snr",
        "2.5",
        "rvs_spec_sig_to_noise >= 30",
        ("rvs_spec_sig_to_noise",),
        lambda t: _float(t, "rvs_spec_sig_to_noise") >= 30.0,
    ),
    Cut(
        "parallax_over_error",
        "2.5",
        "parallax / parallax_error > 5 (error < 20 %)",
        ("parallax", "parallax_error"),
        _parallax_over_error,
    ),
    Cut("ruwe", "2.5", "ruwe < 1.4", ("ruwe",), _less("ruwe", 1.4)),
)

#: Column of the per-star table the APOGEE cuts see: the allStar row kept for the star (−1: none).
APOGEE_ROW = "apogee_row"

#: The APOGEE cross-match as a step of the report (Sect. 2.4): stars without an allStar row go
#: to the observed sample.
APOGEE_MATCH = Cut(
    "apogee_match",
    "2.4",
    "an allStar row with GAIAEDR3_SOURCE_ID = source_id (duplicates: highest SNR kept)",
    (APOGEE_ROW,),
    lambda t: np.asarray(t[APOGEE_ROW]) >= 0,
)


# --------------------------------------------------------------------------------- the result


@dataclass(frozen=True)
class ReportRow:
    """One step of the selection: how many stars it removed and how many remain after it."""

    stage: str  # 'gaia', 'apogee' or 'training'
    name: str
    section: str
    description: str
    removed: int
    remaining: int


@dataclass(frozen=True)
class Selection:
    """The result of :func:`select`.

    ``observed_index`` / ``training_index`` are row positions in the ``gaia`` arrays (ascending),
    ``training_apogee_rows`` the allStar row kept for each training star,
    ``observed_apogee_rows`` the allStar row of each observed star whose APOGEE labels pass
    the APOGEE cuts (−1: none; these stars failed a training-only cut, and are the observed
    sample Fig. 16 compares with APOGEE); ``labels`` and
    ``label_errors`` are (n_training, 5) float64 in :data:`labeling.labels.LABELS` order
    (K, dex). ``report`` lists every step in order, counted in stars; ``apogee_rows`` counts the
    allStar rows by fate (matched, no Gaia id, id outside the table, duplicate dropped).
    """

    n_input: int
    observed_ids: np.ndarray
    observed_index: np.ndarray
    training_ids: np.ndarray
    training_index: np.ndarray
    training_apogee_rows: np.ndarray
    observed_apogee_rows: np.ndarray
    labels: np.ndarray
    label_errors: np.ndarray
    report: tuple[ReportRow, ...]
    apogee_rows: dict[str, int]

    def format_report(self) -> str:
        """The report as a plain-text table."""
        head = f"{'step':<22} {'sect.':<5} {'removed':>9} {'remaining':>10}  condition"
        lines = [head, "-" * len(head)]
        lines.append(f"{'gaia_source rows':<22} {'':<5} {'':>9} {self.n_input:>10}")
        stage = None
        for r in self.report:
            if r.stage != stage:
                stage = r.stage
                lines.append(f"[{stage}]")
            lines.append(
                f"{r.name:<22} {r.section:<5} {r.removed:>9} {r.remaining:>10}  {r.description}"
            )
        lines.append("-" * len(head))
        lines.append(f"training sample: {len(self.training_ids)} stars")
        lines.append(
            f"observed sample: {len(self.observed_ids)} stars "
            "(Gaia cuts passed, not in the training sample)"
        )
        rows = ", ".join(f"{k} {v}" for k, v in self.apogee_rows.items())
        lines.append(f"APOGEE rows: {rows}")
        return "\n".join(lines)

    def print_report(self, file: TextIO | None = None) -> None:
        print(self.format_report(), file=file or sys.stdout)


# ------------------------------------------------------------------------------ the selection


def _apply(
    cuts: tuple[Cut, ...], table: Table, keep: np.ndarray, stage: str, rows: list[ReportRow]
) -> np.ndarray:
    """AND the cuts into ``keep`` in order, recording what each removes from what is left."""
    for cut in cuts:
        passed = keep & cut.keep(table)
        rows.append(
            ReportRow(
                stage,
                cut.name,
                cut.section,
                cut.description,
                int(keep.sum() - passed.sum()),
                int(passed.sum()),
            )
        )
        keep = passed
    return keep


def _check_columns(table: Table, cuts: tuple[Cut, ...], extra: tuple[str, ...], what: str) -> None:
    needed = dict.fromkeys(extra)
    for cut in cuts:
        needed.update(dict.fromkeys(cut.columns))
    missing = [c for c in needed if c not in table]
    if missing:
        raise KeyError(f"{what} lacks column(s) {missing}")


def match_apogee(
    source_id: np.ndarray, apogee_id: np.ndarray, snr: np.ndarray
) -> tuple[np.ndarray, dict[str, int]]:
    """For each Gaia star, the allStar row to use (−1: none) and row counts by fate.

    Rows with id ≤ 0 (no Gaia match) or an id not in ``source_id`` are ignored; among rows of
    the same star the highest ``snr`` wins (NaN lowest, ties to the earlier row).
    """
    source_id = np.asarray(source_id, dtype=np.int64)
    apogee_id = np.asarray(apogee_id, dtype=np.int64)
    snr = np.asarray(snr, dtype=np.float64)
    row_for_star = np.full(source_id.size, -1, dtype=np.int64)
    order = np.argsort(source_id, kind="stable")
    sorted_ids = source_id[order]
    has_id = apogee_id > 0
    pos = np.searchsorted(sorted_ids, apogee_id)
    found = np.zeros(apogee_id.size, dtype=bool)
    if sorted_ids.size:
        found = has_id & (sorted_ids[np.minimum(pos, sorted_ids.size - 1)] == apogee_id)
    cand = np.flatnonzero(found)
    # best row first within each id: sort by id, then SNR descending (NaN last), then row number
    key_snr = np.where(np.isnan(snr[cand]), np.inf, -snr[cand])
    by = np.lexsort((cand, key_snr, apogee_id[cand]))
    cand = cand[by]
    first = np.ones(cand.size, dtype=bool)
    first[1:] = apogee_id[cand][1:] != apogee_id[cand][:-1]
    best = cand[first]
    row_for_star[order[pos[best]]] = best
    counts = {
        "total": int(apogee_id.size),
        "no_gaia_id": int((~has_id).sum()),
        "id_not_in_gaia": int((has_id & ~found).sum()),
        "duplicates_dropped": int(cand.size - best.size),
        "matched_stars": int(best.size),
    }
    return row_for_star, counts


def select(gaia: Table, apogee: Table) -> Selection:
    """Split the stars of ``gaia`` into the training and observed samples (Sect. 2.1-2.5).

    ``gaia``: gaia_source columns (lower-case, one row per star, unique ``source_id``; joined
    with ``classlabel_espels`` from astrophysical_parameters and ``has_rvs``), read by
    :data:`GAIA_CUTS` and :data:`TRAINING_CUTS`. ``apogee``: allStar columns (upper-case), with
    ``GAIAEDR3_SOURCE_ID``, ``SNR``, the labels and errors and what :data:`APOGEE_CUTS` read.
    All columns are 1-D arrays; a missing column raises :class:`KeyError`.
    """
    _check_columns(gaia, GAIA_CUTS + TRAINING_CUTS, ("source_id",), "gaia")
    _check_columns(
        apogee,
        APOGEE_CUTS,
        (APOGEE_ID_COLUMN, "SNR", *APOGEE_LABEL_COLUMNS, *APOGEE_ERROR_COLUMNS),
        "apogee",
    )
    source_id, sid_missing = _int(gaia, "source_id")
    if sid_missing.any():
        raise ValueError("gaia source_id has missing values")
    n = source_id.size
    if np.unique(source_id).size != n:
        raise ValueError("gaia source_id values are not unique")

    rows: list[ReportRow] = []
    gaia_ok = _apply(GAIA_CUTS, gaia, np.ones(n, dtype=bool), "gaia", rows)

    apo_id, _ = _int(apogee, APOGEE_ID_COLUMN)
    row_for_star, counts = match_apogee(source_id, apo_id, _float(apogee, "SNR"))
    # the APOGEE cuts see one row per Gaia star: the kept allStar row (unmatched stars get
    # NaN / missing values, and are out after the match step anyway)
    aligned: dict[str, np.ndarray] = {APOGEE_ROW: row_for_star}
    for cut in APOGEE_CUTS:
        for c in cut.columns:
            aligned.setdefault(c, _take(apogee, c, row_for_star))
    apogee_ok = _apply((APOGEE_MATCH, *APOGEE_CUTS), aligned, gaia_ok, "apogee", rows)
    keep = _apply(TRAINING_CUTS, gaia, apogee_ok, "training", rows)

    training_index = np.flatnonzero(keep)
    observed_index = np.flatnonzero(gaia_ok & ~keep)
    apo_rows = row_for_star[training_index]
    labels = np.stack([_float(apogee, c)[apo_rows] for c in APOGEE_LABEL_COLUMNS], axis=1)
    errors = np.stack([_float(apogee, c)[apo_rows] for c in APOGEE_ERROR_COLUMNS], axis=1)
    labels, errors = labels.astype(np.float64), errors.astype(np.float64)
    return Selection(
        n_input=int(n),
        observed_ids=source_id[observed_index],
        observed_index=observed_index,
        training_ids=source_id[training_index],
        training_index=training_index,
        training_apogee_rows=apo_rows,
        observed_apogee_rows=np.where(apogee_ok, row_for_star, -1)[observed_index],
        labels=labels.reshape(-1, len(LABELS)),
        label_errors=errors.reshape(-1, len(LABELS)),
        report=tuple(rows),
        apogee_rows=counts,
    )


def _take(table: Table, name: str, index: np.ndarray) -> np.ndarray:
    """Column values at ``index``; where ``index`` < 0, a missing value (NaN or masked)."""
    col = table[name]
    if not isinstance(col, np.ma.MaskedArray):
        col = np.asarray(col)
    none = index < 0
    if col.size == 0:
        return np.full(index.size, np.nan)
    out = col[np.where(none, 0, index)]
    if none.any():
        out = np.ma.MaskedArray(out, mask=np.ma.getmaskarray(out) | none)
    return out
