"""The validation report written with every model version (Guiglion et al. 2024, Sect. 4).

:func:`compute_figures` turns the predictions of one model version into JSON-able numbers:
accuracy and precision against the reference labels (Fig. 7: bias b and dispersion σ), per S/N
bin (Fig. 16), the coverage of the quoted uncertainties σ_* (Sect. 3.4, Fig. 8), the ensemble
mean against its single members (Sect. 3.2) and the flag_boundary statistics (Sect. 5).
:func:`write_report` writes those numbers (report.json), the plots mirroring the paper's
figures (PNG) and a self-contained index.html. :func:`compare_versions` and
:func:`plot_label_differences` compare two model versions.

Conventions (tested in tests/labeling/test_validation.py):

- residual = pred − truth; bias = mean residual; σ = standard deviation (ddof=0); robust σ =
  1.4826 · median(|r − median(r)|).
- S/N bins are closed on the left and open on the right: 15 ≤ S/N < 25, 25 ≤ S/N < 35,
  35 ≤ S/N < 75, S/N ≥ 75; stars below 15 (or with no S/N) fall in no bin.
- coverage: the share of stars with |pred − truth| ≤ k·σ_* (inclusive), k = 1, 2; when σ_* leaves
  the reference labels' own errors out (``truth_error``), ≤ k·sqrt(σ_*² + error²).
- a statistic over no stars is ``None`` (JSON null), never NaN.
- flag_boundary digits, in order: Teff, log g, [M/H], [α/M], [Fe/H], G, parallax, t-SNE; a
  string that is not 8 characters of '0'/'1' is counted as invalid and left out of the shares.
"""

from __future__ import annotations

import html
import json
import math
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from .labels import DISPLAY, LABELS, UNITS

#: Samples of a :class:`ValidationData`: cross-validated training predictions, stars with known
#: truth never trained on, and stars without truth.
SAMPLES: tuple[str, ...] = ("training", "heldout", "observed")
#: S/N bins of Fig. 16 and Fig. 11, [lo, hi) with hi = None for the open last bin.
SNR_BINS: tuple[tuple[str, float, float | None], ...] = (
    ("15-25", 15.0, 25.0),
    ("25-35", 25.0, 35.0),
    ("35-75", 35.0, 75.0),
    (">=75", 75.0, None),
)
#: The 8 digits of flag_boundary, in order (Sect. 5).
FLAG_DIGITS: tuple[str, ...] = (*LABELS, "phot_g_mean_mag", "parallax", "tsne")
FLAG_DISPLAY: dict[str, str] = {**DISPLAY, "phot_g_mean_mag": "G", "parallax": "ϖ", "tsne": "t-SNE"}
CLEAN_FLAG = "0" * len(FLAG_DIGITS)
#: Populations outside the training set in the synthetic sky (labeling.synthetic.config
#: OUTSIDE_TRAINING; Sect. 5.3: OB stars, M giants, nearby cool dwarfs).
OUT_OF_DISTRIBUTION: tuple[str, ...] = ("ob_star", "m_giant", "nearby_cool_dwarf")
MAD_TO_SIGMA = 1.4826

SAMPLE_COLOURS = {"training": "#e07b00", "heldout": "#2a9d4b", "observed": "#3465a4"}
SAMPLE_DISPLAY = {"training": "training (cross-validated)", "heldout": "held-out"}


@dataclass
class ValidationData:
    """Predictions of one model version and what they are checked against (Sect. 4)."""

    source_id: np.ndarray  # (N,)
    sample: np.ndarray  # (N,) str: "training", "heldout" or "observed"
    truth: np.ndarray | None  # (N, 5) reference labels, NaN where unknown
    pred: np.ndarray  # (N, 5) ensemble mean
    e: np.ndarray  # (N, 5) model-to-model standard deviation e_*
    sigma: np.ndarray  # (N, 5) total uncertainty σ_*
    snr: np.ndarray  # (N,) rvs_spec_sig_to_noise
    flags: np.ndarray  # (N,) 8-character flag_boundary strings
    member_pred: np.ndarray | None = None  # (n_heldout, K, 5), rows in the order of the data
    population: np.ndarray | None = None  # (N,) str
    #: (N, 5) the reference labels' own errors, when σ_* leaves them out: coverage is then
    #: checked against sqrt(σ_*² + truth_error²)
    truth_error: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.source_id = np.asarray(self.source_id)
        n = len(self.source_id)
        self.sample = np.asarray(self.sample).astype(str)
        unknown = set(np.unique(self.sample)) - set(SAMPLES)
        if unknown:
            raise ValueError(f"unknown sample names {sorted(unknown)}; expected {SAMPLES}")
        nl = len(LABELS)
        for name in ("truth", "pred", "e", "sigma", "truth_error"):
            value = getattr(self, name)
            if value is None and name in ("truth", "truth_error"):
                continue
            value = np.asarray(value, dtype=np.float64)
            if value.shape != (n, nl):
                raise ValueError(f"{name} has shape {value.shape}, expected {(n, nl)}")
            setattr(self, name, value)
        self.snr = np.asarray(self.snr, dtype=np.float64)
        self.flags = np.asarray(self.flags)
        for name in ("sample", "snr", "flags"):
            if getattr(self, name).shape != (n,):
                raise ValueError(f"{name} has shape {getattr(self, name).shape}, expected {(n,)}")
        if self.population is not None:
            self.population = np.asarray(self.population).astype(str)
            if self.population.shape != (n,):
                raise ValueError(f"population has shape {self.population.shape}")
        if self.member_pred is not None:
            self.member_pred = np.asarray(self.member_pred, dtype=np.float64)
            n_held = int(np.count_nonzero(self.sample == "heldout"))
            if self.member_pred.ndim != 3 or self.member_pred.shape[::2] != (n_held, nl):
                raise ValueError(
                    f"member_pred has shape {self.member_pred.shape}, expected ({n_held}, K, {nl})"
                )

    def __len__(self) -> int:
        return len(self.source_id)


# ----------------------------------------------------------------------------- statistics


def _float(x: float) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def residual_stats(r: np.ndarray) -> dict[str, Any]:
    """N, bias (mean), σ (std, ddof=0), robust σ (1.4826·MAD) and median of residuals (Fig. 7)."""
    r = np.asarray(r, dtype=np.float64)
    r = r[np.isfinite(r)]
    if r.size == 0:
        return {"n": 0, "bias": None, "std": None, "robust_sigma": None, "median": None}
    med = np.median(r)
    return {
        "n": int(r.size),
        "bias": _float(r.mean()),
        "std": _float(r.std()),
        "robust_sigma": _float(MAD_TO_SIGMA * np.median(np.abs(r - med))),
        "median": _float(med),
    }


def snr_bin_masks(snr: np.ndarray) -> dict[str, np.ndarray]:
    """Boolean mask per S/N bin of Fig. 16: lo ≤ S/N < hi (the last bin S/N ≥ 75)."""
    snr = np.asarray(snr, dtype=np.float64)
    out = {}
    with np.errstate(invalid="ignore"):
        for name, lo, hi in SNR_BINS:
            m = snr >= lo
            if hi is not None:
                m &= snr < hi
            out[name] = m
    return out


def _median(x: np.ndarray) -> float | None:
    x = x[np.isfinite(x)]
    return _float(np.median(x)) if x.size else None


def _accuracy(
    pred: np.ndarray,
    truth: np.ndarray,
    sigma: np.ndarray,
    e: np.ndarray,
    snr: np.ndarray,
    truth_error: np.ndarray | None = None,
) -> dict[str, Any]:
    """Per label: residual statistics, coverage of σ_* and the same per S/N bin (Fig. 7, 16)."""
    out: dict[str, Any] = {}
    bins = snr_bin_masks(snr)
    for j, label in enumerate(LABELS):
        r = pred[:, j] - truth[:, j]
        ok = np.isfinite(r)
        entry = residual_stats(r[ok])
        s = sigma[:, j]
        # against a noisy reference the residual carries the reference's error too
        c = s if truth_error is None else np.hypot(s, np.nan_to_num(truth_error[:, j]))
        cov = ok & np.isfinite(c)
        absr = np.abs(r[cov])
        entry["n_coverage"] = int(cov.sum())
        entry["coverage_1sigma"] = _float(np.mean(absr <= c[cov])) if cov.any() else None
        entry["coverage_2sigma"] = _float(np.mean(absr <= 2 * c[cov])) if cov.any() else None
        zok = cov & (c > 0)
        entry["z_std"] = _float(np.std(r[zok] / c[zok])) if zok.any() else None
        entry["median_sigma"] = _median(s[ok])
        entry["median_e"] = _median(e[ok, j])
        entry["snr_bins"] = {}
        for name, m in bins.items():
            b = residual_stats(r[ok & m])
            b["median_sigma"] = _median(s[ok & m])
            entry["snr_bins"][name] = b
        out[label] = entry
    return out


def _uncertainty(e: np.ndarray, sigma: np.ndarray, snr: np.ndarray) -> dict[str, Any]:
    """Median (16th, 84th percentile) of e_* and σ_* per label, and their medians per S/N bin."""
    out: dict[str, Any] = {}
    bins = snr_bin_masks(snr)
    for j, label in enumerate(LABELS):
        entry: dict[str, Any] = {}
        for name, arr in (("e", e[:, j]), ("sigma", sigma[:, j])):
            v = arr[np.isfinite(arr)]
            if v.size:
                p16, p50, p84 = np.percentile(v, [16, 50, 84])
                entry[name] = {
                    "n": int(v.size),
                    "median": _float(p50),
                    "p16": _float(p16),
                    "p84": _float(p84),
                }
            else:
                entry[name] = {"n": 0, "median": None, "p16": None, "p84": None}
        entry["snr_bins"] = {
            name: {
                "n": int(m.sum()),
                "median_e": _median(e[m, j]),
                "median_sigma": _median(sigma[m, j]),
            }
            for name, m in bins.items()
        }
        out[label] = entry
    return out


def parse_flags(flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, 8) bool digits set and (N,) validity of flag_boundary strings (bytes or str)."""
    arr = np.asarray(flags)
    if arr.dtype.kind == "S":
        arr = np.char.decode(arr, "ascii", errors="replace")
    arr = arr.astype(str)
    nd = len(FLAG_DIGITS)
    valid = np.char.str_len(arr) == nd
    chars = np.full((len(arr), nd), "0", dtype="U1")
    if valid.any():
        chars[valid] = arr[valid].astype(f"U{nd}").view("U1").reshape(-1, nd)
    valid &= np.all((chars == "0") | (chars == "1"), axis=1)
    digits = (chars == "1") & valid[:, None]
    return digits, valid


def _flag_stats(digits: np.ndarray, valid: np.ndarray) -> dict[str, Any]:
    n_valid = int(valid.sum())
    d = digits[valid]
    if n_valid == 0:
        share = dict.fromkeys(FLAG_DIGITS)
        return {
            "n": int(len(valid)),
            "n_valid": 0,
            "n_invalid": int(len(valid)),
            "n_clean": 0,
            "share_clean": None,
            "share_flagged": None,
            "digit_share": share,
        }
    clean = ~d.any(axis=1)
    return {
        "n": int(len(valid)),
        "n_valid": n_valid,
        "n_invalid": int(len(valid) - n_valid),
        "n_clean": int(clean.sum()),
        "share_clean": _float(clean.mean()),
        "share_flagged": _float(1.0 - clean.mean()),
        "digit_share": {name: _float(d[:, i].mean()) for i, name in enumerate(FLAG_DIGITS)},
    }


def _flags(data: ValidationData, ood_populations: Sequence[str]) -> dict[str, Any]:
    """flag_boundary statistics (Sect. 5): over all stars, per sample and per population."""
    digits, valid = parse_flags(data.flags)
    out: dict[str, Any] = {"digits": list(FLAG_DIGITS), "all": _flag_stats(digits, valid)}
    out["by_sample"] = {
        s: _flag_stats(digits[data.sample == s], valid[data.sample == s])
        for s in SAMPLES
        if np.any(data.sample == s)
    }
    if data.population is not None:
        pops = data.population
        out["by_population"] = {
            str(p): _flag_stats(digits[pops == p], valid[pops == p]) for p in np.unique(pops)
        }
        is_ood = np.isin(pops, list(ood_populations))
        flagged = digits.any(axis=1)
        ood_v, oth_v = is_ood & valid, ~is_ood & valid
        out["out_of_distribution"] = {
            "populations": list(ood_populations),
            "n_ood": int(ood_v.sum()),
            "n_other": int(oth_v.sum()),
            "share_flagged_ood": _float(flagged[ood_v].mean()) if ood_v.any() else None,
            "share_flagged_other": _float(flagged[oth_v].mean()) if oth_v.any() else None,
            "share_of_flagged_in_ood": (
                _float(is_ood[valid & flagged].mean()) if (valid & flagged).any() else None
            ),
        }
    return out


def _members(data: ValidationData) -> dict[str, Any] | None:
    """Ensemble mean vs single members on the held-out stars (Sect. 3.2)."""
    if data.member_pred is None or data.truth is None:
        return None
    held = data.sample == "heldout"
    truth, pred, mp = data.truth[held], data.pred[held], data.member_pred
    out: dict[str, Any] = {"n_members": int(mp.shape[1])}
    for j, label in enumerate(LABELS):
        ens = residual_stats(pred[:, j] - truth[:, j])
        per = [residual_stats(mp[:, k, j] - truth[:, j]) for k in range(mp.shape[1])]
        stds = np.array([p["std"] if p["std"] is not None else np.nan for p in per])
        rob = np.array([p["robust_sigma"] if p["n"] else np.nan for p in per])
        fin = np.isfinite(stds)
        mean_dev = np.abs(np.nanmean(mp[:, :, j], axis=1) - pred[:, j]) if len(pred) else []
        med_std = _float(np.median(stds[fin])) if fin.any() else None
        out[label] = {
            "n": ens["n"],
            "ensemble_bias": ens["bias"],
            "ensemble_std": ens["std"],
            "ensemble_robust_sigma": ens["robust_sigma"],
            "member_std": [_float(s) for s in stds],
            "member_bias": [p["bias"] for p in per],
            "member_std_median": med_std,
            "member_std_min": _float(stds[fin].min()) if fin.any() else None,
            "member_robust_sigma_median": (
                _float(np.median(rob[np.isfinite(rob)])) if np.isfinite(rob).any() else None
            ),
            "ensemble_over_member_std": (
                _float(ens["std"] / med_std) if ens["std"] is not None and med_std else None
            ),
            # a sanity check: the ensemble mean should be the members' mean
            "max_abs_member_mean_minus_pred": _median_max(mean_dev),
        }
    return out


def _median_max(x: Any) -> float | None:
    x = np.asarray(x, dtype=np.float64)
    x = x[np.isfinite(x)]
    return _float(x.max()) if x.size else None


def compute_figures(
    data: ValidationData, *, ood_populations: Sequence[str] = OUT_OF_DISTRIBUTION
) -> dict[str, Any]:
    """All the numbers of the validation report (Sect. 4; Fig. 7, 8, 16; Sect. 3.2, 5), JSON-able.

    Keys: n_stars, samples (counts), labels, units, snr_bins, accuracy[sample][label] (samples
    with truth), accuracy_by_population[sample][population][label], uncertainty[sample][label],
    ensemble_vs_members[label] (or None) and flags.
    """
    figures: dict[str, Any] = {
        "n_stars": len(data),
        "samples": {s: int(np.count_nonzero(data.sample == s)) for s in SAMPLES},
        "labels": list(LABELS),
        "units": {k: UNITS[k] for k in LABELS},
        "snr_bins": [{"name": n, "lo": lo, "hi": hi} for n, lo, hi in SNR_BINS],
        "conventions": {
            "residual": "pred - truth",
            "std_ddof": 0,
            "robust_sigma": "1.4826 * median(|r - median(r)|)",
            "snr_bins": "lo <= S/N < hi; last bin S/N >= 75",
            "coverage": (
                "share of |pred - truth| <= k * sqrt(sigma^2 + truth_error^2), k = 1, 2; "
                "truth_error: the reference labels' errors when sigma leaves them out, else 0"
            ),
        },
    }
    accuracy: dict[str, Any] = {}
    by_pop: dict[str, Any] = {}
    if data.truth is not None:
        for s in SAMPLES:
            m = data.sample == s
            if not np.isfinite(data.truth[m]).any():
                continue
            err = None if data.truth_error is None else data.truth_error[m]
            accuracy[s] = _accuracy(
                data.pred[m], data.truth[m], data.sigma[m], data.e[m], data.snr[m], err
            )
            if data.population is not None:
                by_pop[s] = {}
                for p in np.unique(data.population[m]):
                    mp = m & (data.population == p)
                    by_pop[s][str(p)] = {
                        label: residual_stats(data.pred[mp, j] - data.truth[mp, j])
                        for j, label in enumerate(LABELS)
                    }
    figures["accuracy"] = accuracy
    figures["accuracy_by_population"] = by_pop
    figures["uncertainty"] = {
        s: _uncertainty(
            data.e[data.sample == s], data.sigma[data.sample == s], data.snr[data.sample == s]
        )
        for s in SAMPLES
        if np.any(data.sample == s)
    }
    figures["ensemble_vs_members"] = _members(data)
    figures["flags"] = _flags(data, ood_populations)
    return figures


# ----------------------------------------------------------------------------- comparison


def _diff(a: Any, b: Any) -> float | None:
    return _float(b - a) if a is not None and b is not None else None


def compare_versions(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """Differences b − a of two versions' :func:`compute_figures` (bias, σ, coverage, flags)."""
    keys = ("bias", "std", "robust_sigma", "coverage_1sigma", "coverage_2sigma", "median_sigma")
    accuracy: dict[str, Any] = {}
    for s in SAMPLES:
        acc_a, acc_b = a.get("accuracy", {}).get(s), b.get("accuracy", {}).get(s)
        if not acc_a or not acc_b:
            continue
        accuracy[s] = {}
        for label in LABELS:
            la, lb = acc_a.get(label, {}), acc_b.get(label, {})
            entry: dict[str, Any] = {"n_a": la.get("n"), "n_b": lb.get("n")}
            for k in keys:
                entry[f"{k}_a"], entry[f"{k}_b"] = la.get(k), lb.get(k)
                entry[f"d_{k}"] = _diff(la.get(k), lb.get(k))
            entry["snr_bins"] = {
                name: {
                    "d_bias": _diff(
                        la.get("snr_bins", {}).get(name, {}).get("bias"),
                        lb.get("snr_bins", {}).get(name, {}).get("bias"),
                    ),
                    "d_std": _diff(
                        la.get("snr_bins", {}).get(name, {}).get("std"),
                        lb.get("snr_bins", {}).get(name, {}).get("std"),
                    ),
                }
                for name, _, _ in SNR_BINS
            }
            accuracy[s][label] = entry
    uncertainty: dict[str, Any] = {}
    for s in SAMPLES:
        ua, ub = a.get("uncertainty", {}).get(s), b.get("uncertainty", {}).get(s)
        if ua and ub:
            uncertainty[s] = {
                label: {
                    "d_median_e": _diff(ua[label]["e"]["median"], ub[label]["e"]["median"]),
                    "d_median_sigma": _diff(
                        ua[label]["sigma"]["median"], ub[label]["sigma"]["median"]
                    ),
                }
                for label in LABELS
            }
    fa = a.get("flags", {}).get("all", {})
    fb = b.get("flags", {}).get("all", {})
    flags = {
        "share_clean_a": fa.get("share_clean"),
        "share_clean_b": fb.get("share_clean"),
        "d_share_clean": _diff(fa.get("share_clean"), fb.get("share_clean")),
        "d_digit_share": {
            d: _diff(fa.get("digit_share", {}).get(d), fb.get("digit_share", {}).get(d))
            for d in FLAG_DIGITS
        },
    }
    return {"difference": "b - a", "accuracy": accuracy, "uncertainty": uncertainty, "flags": flags}


def plot_label_differences(
    pred_a: np.ndarray, pred_b: np.ndarray, out_png: str | Path, *, dpi: int = 90
) -> dict[str, Any]:
    """Per-star differences b − a of two versions' labels: histogram and Δ vs label (PNG).

    Returns per label n, mean, std, robust σ, median and max |Δ| of the differences.
    """
    pred_a = np.asarray(pred_a, dtype=np.float64)
    pred_b = np.asarray(pred_b, dtype=np.float64)
    if pred_a.shape != pred_b.shape or pred_a.ndim != 2 or pred_a.shape[1] != len(LABELS):
        raise ValueError(f"shapes {pred_a.shape} and {pred_b.shape}; expected (N, {len(LABELS)})")
    d = pred_b - pred_a
    stats: dict[str, Any] = {}
    fig, axes = _subplots(2, len(LABELS), figsize=(3.2 * len(LABELS), 5.6), squeeze=False)
    for j, label in enumerate(LABELS):
        ok = np.isfinite(d[:, j]) & np.isfinite(pred_a[:, j])
        st = residual_stats(d[ok, j])
        st["max_abs"] = _float(np.abs(d[ok, j]).max()) if ok.any() else None
        stats[label] = st
        ax_h, ax_s = axes[0, j], axes[1, j]
        if ok.any():
            lo, hi = _robust_range(d[ok, j], 0.5, 99.5)
            ax_h.hist(d[ok, j], bins=60, range=(lo, hi), color="#3465a4")
            ax_h.set_yscale("log")
            _density(ax_s, pred_a[ok, j], d[ok, j], extent_y=(lo, hi))
        ax_h.set_title(DISPLAY[label])
        ax_h.set_xlabel(f"Δ{DISPLAY[label]} (b − a) [{UNITS[label]}]")
        ax_h.text(0.02, 0.95, _bs_text(label, st), transform=ax_h.transAxes, va="top", fontsize=8)
        ax_s.axhline(0, color="k", ls="--", lw=0.8)
        ax_s.set_xlabel(f"{DISPLAY[label]} (a)")
        ax_s.set_ylabel(f"Δ{DISPLAY[label]}")
    axes[0, 0].set_ylabel("stars")
    _adjust(fig, hspace=0.55)
    fig.savefig(out_png, dpi=dpi)
    return stats


# ----------------------------------------------------------------------------- plots


def _robust_range(x: np.ndarray, lo: float = 0.5, hi: float = 99.5) -> tuple[float, float]:
    x = x[np.isfinite(x)]
    if x.size == 0:
        return 0.0, 1.0
    a, b = np.percentile(x, [lo, hi])
    half = 0.5 * max(abs(a), abs(b), 1e-3)
    if b - a < 1e-6 * half:  # (nearly) constant: a window around the value
        mid = 0.5 * (a + b)
        a, b = mid - half, mid + half
    return float(a), float(b)


def _density(
    ax: Any,
    x: np.ndarray,
    y: np.ndarray,
    *,
    cmap: str = "viridis",
    extent_y: tuple[float, float] | None = None,
    gridsize: int = 80,
) -> None:
    """Log-density 2-D histogram (Fig. 7/8 style), rasterised, over the robust ranges of x, y."""
    x0, x1 = _robust_range(x)
    y0, y1 = extent_y if extent_y is not None else _robust_range(y)
    xe, ye = np.linspace(x0, x1, gridsize + 1), np.linspace(y0, y1, gridsize + 1)
    n, _, _ = np.histogram2d(x, y, bins=(xe, ye))
    ax.pcolormesh(
        xe, ye, np.ma.masked_where(n == 0, n).T, cmap=cmap, norm=LogNorm(vmin=1), rasterized=True
    )
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)


def _subplots(*args: Any, **kwargs: Any) -> tuple[Figure, Any]:
    """Figure and axes on the Agg canvas, without pyplot (no global state; safe in workers)."""
    fig = Figure(figsize=kwargs.pop("figsize", None))
    FigureCanvasAgg(fig)
    return fig, fig.subplots(*args, **kwargs)


def _adjust(
    fig: Any,
    *,
    left: float = 0.75,
    right: float = 0.2,
    bottom: float = 0.6,
    top: float = 0.35,
    wspace: float = 0.4,
    hspace: float = 0.5,
) -> None:
    """Fixed margins in inches (tight_layout costs an extra draw of every tick: 2× the time)."""
    w, h = fig.get_size_inches()
    fig.subplots_adjust(
        left=left / w,
        right=1 - right / w,
        bottom=bottom / h,
        top=1 - top / h,
        wspace=wspace,
        hspace=hspace,
    )


def running_stats(
    x: np.ndarray, y: np.ndarray, *, n_bins: int = 25, min_count: int = 10
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bin centres, running median and running robust σ of y along x (bins over 0.5-99.5 % of x)."""
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < min_count:
        return np.array([]), np.array([]), np.array([])
    lo, hi = _robust_range(x)
    edges = np.linspace(lo, hi, n_bins + 1)
    idx = np.digitize(x, edges) - 1
    inside = (idx >= 0) & (idx < n_bins)
    order = np.argsort(idx[inside], kind="stable")
    ys = y[inside][order]
    counts = np.bincount(idx[inside], minlength=n_bins)
    centres, med, sig = [], [], []
    start = 0
    for i, c in enumerate(counts):
        seg = ys[start : start + c]
        start += c
        if c >= min_count:
            m = np.median(seg)
            centres.append(0.5 * (edges[i] + edges[i + 1]))
            med.append(m)
            sig.append(MAD_TO_SIGMA * np.median(np.abs(seg - m)))
    return np.array(centres), np.array(med), np.array(sig)


def _fmt(label: str | None, v: float | None) -> str:
    """Numbers as printed in the report: Teff to 0.1 K, the other labels to 0.001 dex."""
    if v is None:
        return "–"
    return f"{v:.1f}" if label == "teff" else f"{v:.3f}"


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.1f} %"


def _bs_text(label: str, st: Mapping[str, Any]) -> str:
    return f"b = {_fmt(label, st.get('bias'))}\nσ = {_fmt(label, st.get('std'))}"


def _plot_residuals(data: ValidationData, figures: Mapping[str, Any], path: Path, dpi: int) -> bool:
    """Fig. 7: residual vs reference label, running median ± robust σ, b and σ per panel."""
    samples = [s for s in ("training", "heldout") if s in figures["accuracy"]]
    if not samples or data.truth is None:
        return False
    nl = len(LABELS)
    fig, axes = _subplots(len(samples), nl, figsize=(3.3 * nl, 3.0 * len(samples)), squeeze=False)
    for i, s in enumerate(samples):
        m = data.sample == s
        for j, label in enumerate(LABELS):
            ax = axes[i, j]
            t, r = data.truth[m, j], data.pred[m, j] - data.truth[m, j]
            ok = np.isfinite(t) & np.isfinite(r)
            if ok.sum() > 0:
                _density(ax, t[ok], r[ok], cmap="viridis")
                c, med, sig = running_stats(t[ok], r[ok])
                ax.plot(c, med, color="red", lw=1.2)
                ax.plot(c, med + sig, color="red", lw=1.1, ls=(0, (3, 2)))
                ax.plot(c, med - sig, color="red", lw=1.1, ls=(0, (3, 2)))
            ax.axhline(0, color="k", ls="--", lw=0.8)
            st = figures["accuracy"][s][label]
            ax.text(
                0.03,
                0.04,
                _bs_text(label, st),
                transform=ax.transAxes,
                fontsize=8,
                bbox={"fc": "white", "alpha": 0.7, "lw": 0},
            )
            ax.set_xlabel(f"{DISPLAY[label]} reference [{UNITS[label]}]")
            if j == 0:
                ax.set_ylabel(f"{SAMPLE_DISPLAY[s]}\npred − reference")
            else:
                ax.set_ylabel(f"Δ{DISPLAY[label]}")
    _adjust(fig, left=0.95, hspace=0.45)
    fig.savefig(path, dpi=dpi)
    return True


def _plot_uncertainties(data: ValidationData, path: Path, dpi: int) -> bool:
    """Fig. 8: e_* (red) and σ_* (blue) vs predicted label; green: running σ of the residuals."""
    nl = len(LABELS)
    fig, axes = _subplots(2, nl, figsize=(3.3 * nl, 5.8), squeeze=False)
    train = data.sample == "training"
    for j, label in enumerate(LABELS):
        x = data.pred[:, j]
        for row, (arr, cmap, colour, name) in enumerate(
            ((data.e[:, j], "Reds", "darkred", "e"), (data.sigma[:, j], "Blues", "navy", "σ"))
        ):
            ax = axes[row, j]
            ok = np.isfinite(x) & np.isfinite(arr)
            if ok.any():
                _, top = _robust_range(arr[ok], 0.0, 99.5)
                _density(ax, x[ok], arr[ok], cmap=cmap, extent_y=(0.0, 1.15 * top))
                c, med, _ = running_stats(x[ok], arr[ok])
                ax.plot(c, med, color=colour, lw=1.2, label=f"median {name}")
            if data.truth is not None and train.any():
                r = data.pred[train, j] - data.truth[train, j]
                c, _, sig = running_stats(data.pred[train, j], r)
                ax.plot(c, sig, color="green", lw=1.5, label="running σ (train)")
            ax.set_xlabel(f"{DISPLAY[label]} predicted [{UNITS[label]}]")
            ax.set_ylabel(f"{name}{DISPLAY[label]}")
            if j == 0:
                ax.legend(fontsize=7, loc="upper right")
    _adjust(fig, hspace=0.45)
    fig.savefig(path, dpi=dpi)
    return True


def _plot_snr(figures: Mapping[str, Any], path: Path, dpi: int) -> bool:
    """Fig. 16: σ of (pred − truth) per S/N bin (solid) and median σ_* (dotted), per sample."""
    samples = list(figures["accuracy"])
    if not samples:
        return False
    names = [n for n, _, _ in SNR_BINS]
    x = np.arange(len(names))
    nl = len(LABELS)
    fig, axes = _subplots(1, nl, figsize=(3.2 * nl, 3.0), squeeze=False)
    for j, label in enumerate(LABELS):
        ax = axes[0, j]
        top = 0.0
        for s in samples:
            bins = figures["accuracy"][s][label]["snr_bins"]
            std = [np.nan if bins[n]["std"] is None else bins[n]["std"] for n in names]
            ms = [
                np.nan if bins[n]["median_sigma"] is None else bins[n]["median_sigma"]
                for n in names
            ]
            colour = SAMPLE_COLOURS[s]
            top = max([top, *(v for v in std + ms if np.isfinite(v))])
            ax.plot(x, std, "o-", color=colour, label=f"σ {s}")
            ax.plot(x, ms, "s:", color=colour, alpha=0.7, ms=4, label=f"median σ* {s}")
        ax.set_xticks(x, names)
        ax.set_xlabel("S/N")
        ax.set_ylabel(f"σ {DISPLAY[label]} [{UNITS[label]}]")
        ax.set_ylim(0, 1.2 * top if top > 0 else 1.0)
        if j == 0:
            ax.legend(fontsize=7)
    _adjust(fig, bottom=0.55)
    fig.savefig(path, dpi=dpi)
    return True


def _binned_mean(
    x: np.ndarray, y: np.ndarray, c: np.ndarray, xe: np.ndarray, ye: np.ndarray
) -> np.ma.MaskedArray:
    n, _, _ = np.histogram2d(x, y, bins=(xe, ye))
    s, _, _ = np.histogram2d(x, y, bins=(xe, ye), weights=c)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.ma.masked_where(n == 0, s / n).T


def _diagram_panels(data: ValidationData) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(title, labels, clean mask) for the predicted labels and the reference labels."""
    digits, valid = parse_flags(data.flags)
    clean = valid & ~digits.any(axis=1) if valid.any() else np.ones(len(data), bool)
    obs = data.sample == "observed"
    panels: list[tuple[str, np.ndarray, np.ndarray]] = []
    if obs.any():
        panels.append((f"predicted, observed sample ({obs.sum()})", data.pred[obs], clean[obs]))
    else:
        panels.append((f"predicted, all stars ({len(data)})", data.pred, clean))
    if data.truth is not None:
        known = np.isfinite(data.truth).all(axis=1)
        if (known & obs).any():
            m = known & obs
            panels.append((f"reference, observed sample ({m.sum()})", data.truth[m], clean[m]))
        elif known.any():
            panels.append(
                (f"reference, stars with truth ({known.sum()})", data.truth[known], clean[known])
            )
    return panels


def _plot_kiel(data: ValidationData, path: Path, dpi: int) -> bool:
    """Fig. 4/11: Kiel diagram coloured by mean [M/H]; flagged stars as grey density behind."""
    panels = _diagram_panels(data)
    it, ig, im = LABELS.index("teff"), LABELS.index("logg"), LABELS.index("m_h")
    both = np.concatenate([p[1] for p in panels])
    t0, t1 = _robust_range(both[:, it], 0.2, 99.8)
    g0, g1 = _robust_range(both[:, ig], 0.2, 99.8)
    m0, m1 = _robust_range(both[:, im], 1, 99)
    xe, ye = np.linspace(t0, t1, 121), np.linspace(g0, g1, 101)
    fig, axes = _subplots(1, len(panels), figsize=(5.2 * len(panels), 4.4), squeeze=False)
    _adjust(fig, right=0.1, wspace=0.3)
    mesh = None
    for ax, (title, lab, clean) in zip(axes[0], panels, strict=True):
        ok = np.isfinite(lab[:, [it, ig, im]]).all(axis=1)
        grey = ok & ~clean
        if grey.any():
            n, _, _ = np.histogram2d(lab[grey, it], lab[grey, ig], bins=(xe, ye))
            ax.pcolormesh(
                xe,
                ye,
                np.ma.masked_where(n == 0, n).T,
                cmap="Greys",
                norm=LogNorm(vmin=1),
                rasterized=True,
                alpha=0.6,
            )
        good = ok & clean
        if good.any():
            mean = _binned_mean(lab[good, it], lab[good, ig], lab[good, im], xe, ye)
            mesh = ax.pcolormesh(xe, ye, mean, cmap="jet", vmin=m0, vmax=m1, rasterized=True)
        ax.set_xlim(t1, t0)
        ax.set_ylim(g1, g0)
        ax.set_xlabel(f"Teff [{UNITS['teff']}]")
        ax.set_ylabel("log g")
        ax.set_title(f"{title}; grey: flagged", fontsize=9)
    if mesh is not None:
        fig.colorbar(mesh, ax=list(axes[0]), label="mean [M/H] (clean stars)")
    fig.savefig(path, dpi=dpi)
    return True


def _plot_alpha(data: ValidationData, path: Path, dpi: int) -> bool:
    """Fig. 14: [α/M] vs [M/H] density of clean ('00000000') stars."""
    panels = _diagram_panels(data)
    im, ia = LABELS.index("m_h"), LABELS.index("alpha_m")
    both = np.concatenate([p[1] for p in panels])
    m0, m1 = _robust_range(both[:, im], 0.2, 99.8)
    a0, a1 = _robust_range(both[:, ia], 0.2, 99.8)
    xe, ye = np.linspace(m0, m1, 121), np.linspace(a0, a1, 101)
    fig, axes = _subplots(1, len(panels), figsize=(5.0 * len(panels), 4.0), squeeze=False)
    for ax, (title, lab, clean) in zip(axes[0], panels, strict=True):
        ok = np.isfinite(lab[:, [im, ia]]).all(axis=1) & clean
        if ok.any():
            n, _, _ = np.histogram2d(lab[ok, im], lab[ok, ia], bins=(xe, ye))
            ax.pcolormesh(
                xe,
                ye,
                np.ma.masked_where(n == 0, n).T,
                cmap="viridis",
                norm=LogNorm(vmin=1),
                rasterized=True,
            )
        ax.set_xlim(m0, m1)
        ax.set_ylim(a0, a1)
        ax.set_xlabel("[M/H]")
        ax.set_ylabel("[α/M]")
        ax.set_title(f"{title}; clean flags", fontsize=9)
    _adjust(fig, wspace=0.3)
    fig.savefig(path, dpi=dpi)
    return True


def _plot_flags(figures: Mapping[str, Any], path: Path, dpi: int) -> bool:
    """Sect. 5: share of each flag_boundary digit set and of '00000000', per sample/population."""
    flags = figures["flags"]
    pops = flags.get("by_population")
    fig, axes = _subplots(1, 2 if pops else 1, figsize=(12 if pops else 7, 3.8), squeeze=False)
    ax = axes[0, 0]
    groups = {"all": flags["all"], **flags["by_sample"]}
    names = [FLAG_DISPLAY[d] for d in FLAG_DIGITS] + ["00000000"]
    x = np.arange(len(names))
    w = 0.8 / len(groups)
    for i, (g, st) in enumerate(groups.items()):
        vals = [st["digit_share"][d] for d in FLAG_DIGITS] + [st["share_clean"]]
        vals = [np.nan if v is None else 100 * v for v in vals]
        ax.bar(
            x + (i - (len(groups) - 1) / 2) * w,
            vals,
            w,
            label=g,
            color=SAMPLE_COLOURS.get(g, "grey"),
        )
    ax.set_xticks(x, names, rotation=30)
    ax.set_ylabel("share of stars [%]")
    ax.set_title("flag_boundary digits set", fontsize=9)
    ax.legend(fontsize=7)
    if pops:
        ax = axes[0, 1]
        ood = set(flags.get("out_of_distribution", {}).get("populations", []))
        items = sorted(pops.items())
        vals = [
            np.nan if st["share_flagged"] is None else 100 * st["share_flagged"] for _, st in items
        ]
        colours = ["#c0392b" if p in ood else "#3465a4" for p, _ in items]
        ax.barh(np.arange(len(items)), vals, color=colours)
        ax.set_yticks(np.arange(len(items)), [p for p, _ in items], fontsize=8)
        ax.set_xlabel("share flagged (≠ 00000000) [%]")
        ax.set_title("per population (red: outside the training set)", fontsize=9)
        ax.set_xlim(0, 100)
    _adjust(fig, left=0.7, bottom=0.85, wspace=0.35)
    fig.savefig(path, dpi=dpi)
    return True


def _plot_members(figures: Mapping[str, Any], path: Path, dpi: int) -> bool:
    """Sect. 3.2: σ of each single member relative to the ensemble mean's σ (held-out stars)."""
    ev = figures.get("ensemble_vs_members")
    if not ev:
        return False
    fig, ax = _subplots(figsize=(6, 3.6))
    for j, label in enumerate(LABELS):
        st = ev[label]
        if not st["ensemble_std"]:
            continue
        ratios = [s / st["ensemble_std"] for s in st["member_std"] if s is not None]
        ax.scatter(
            np.full(len(ratios), j) + np.linspace(-0.15, 0.15, len(ratios)),
            ratios,
            s=12,
            color="#3465a4",
            label="single members" if j == 0 else None,
        )
    ax.axhline(1.0, color="#c0392b", lw=1.2, label="ensemble mean")
    ax.set_xticks(np.arange(len(LABELS)), [DISPLAY[k] for k in LABELS])
    ax.set_ylabel("σ(member − truth) / σ(ensemble − truth)")
    ax.legend(fontsize=8)
    _adjust(fig, left=0.8, bottom=0.45)
    fig.savefig(path, dpi=dpi)
    return True


#: file name → caption citing the paper figure the plot mirrors
PLOTS: dict[str, str] = {
    "residuals.png": (
        "Residual (prediction − reference) vs reference label for the training sample "
        "(cross-validated) and the held-out stars, log density, with the running median (red) "
        "and ± the running robust σ (dotted); b and σ in the corner. Mirrors Fig. 7."
    ),
    "uncertainties.png": (
        "Model-to-model spread e_* (top, red) and total uncertainty σ_* (bottom, blue) vs "
        "predicted label for all stars, with their running median; green: running robust σ of "
        "the training residuals. Mirrors Fig. 8 (Sect. 3.4)."
    ),
    "precision_snr.png": (
        "σ of (prediction − reference) per S/N bin (15–25, 25–35, 35–75, ≥ 75; solid) and the "
        "median quoted σ_* (dotted), training (orange) and held-out (green). Mirrors Fig. 16."
    ),
    "kiel.png": (
        "Kiel diagram of the predicted labels of the observed sample (and of the reference "
        "labels where known), coloured by the mean [M/H] of clean stars (flag '00000000'); "
        "flagged stars as grey density. Mirrors Fig. 4 and Fig. 11."
    ),
    "alpha_mh.png": (
        "[α/M] vs [M/H] density of clean stars, predicted labels of the observed sample (and "
        "reference labels where known). Mirrors Fig. 14."
    ),
    "flags.png": (
        "Share of stars with each flag_boundary digit set (Teff, log g, [M/H], [α/M], [Fe/H], "
        "G, parallax, t-SNE) and with '00000000'; right: share flagged per population. Sect. 5."
    ),
    "ensemble_members.png": (
        "σ of single ensemble members relative to the ensemble mean on the held-out stars "
        "(Sect. 3.2: 28 models, prediction = mean)."
    ),
}


# ----------------------------------------------------------------------------- report


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, set | tuple):
        return list(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def _sanitise(obj: Any) -> Any:
    """NaN/inf → None recursively, so report.json is strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {str(k): _sanitise(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_sanitise(v) for v in obj]
    return obj


def _flatten(obj: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(obj, Mapping):
        out: list[tuple[str, Any]] = []
        for k, v in obj.items():
            out += _flatten(v, f"{prefix}.{k}" if prefix else str(k))
        return out
    return [(prefix, obj)]


def _table(head: Sequence[str], rows: Sequence[Sequence[Any]], caption: str = "") -> str:
    e = html.escape
    cap = f"<caption>{e(caption)}</caption>" if caption else ""
    th = "".join(f"<th>{e(str(h))}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table>{cap}<thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>\n"


_CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1400px;color:#222;padding:0 1em}
table{border-collapse:collapse;margin:0.6em 0 1.4em;font-size:0.9em}
th,td{border:1px solid #ccc;padding:0.25em 0.6em;text-align:right}
th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}
caption{text-align:left;font-weight:600;padding:0.3em 0}
figure{margin:1em 0 2em}figure img{max-width:100%;border:1px solid #ddd}
figcaption{font-size:0.9em;color:#444;max-width:1000px}
code{background:#f4f4f4;padding:0 0.2em}
"""


def _html(
    title: str,
    figures: Mapping[str, Any],
    config: Mapping[str, Any],
    plots: Sequence[tuple[str, str]],
    extra: Mapping[str, Any] | None,
    generated: str,
) -> str:
    e = html.escape
    parts = [
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>",
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f"<p>Validation report (Guiglion et al. 2024, A&amp;A 682, A9, Sect. 4), generated "
        f"{e(generated)}. Numbers: <a href='report.json'>report.json</a>. Residual = prediction "
        "− reference; bias = mean residual; σ = standard deviation; robust σ = 1.4826·MAD; "
        "S/N bins lo ≤ S/N &lt; hi.</p>",
    ]
    parts.append(
        _table(
            ["sample", "stars"],
            [[s, n] for s, n in figures["samples"].items()] + [["total", figures["n_stars"]]],
            "Samples",
        )
    )
    for s, acc in figures["accuracy"].items():
        rows = []
        for label in LABELS:
            st = acc[label]
            rows.append(
                [
                    f"{DISPLAY[label]} [{UNITS[label]}]",
                    st["n"],
                    _fmt(label, st["bias"]),
                    _fmt(label, st["std"]),
                    _fmt(label, st["robust_sigma"]),
                    _pct(st["coverage_1sigma"]),
                    _pct(st["coverage_2sigma"]),
                    _fmt(label, st["median_sigma"]),
                    _fmt(label, st["median_e"]),
                    "–" if st["z_std"] is None else f"{st['z_std']:.2f}",
                ]
            )
        parts.append(
            _table(
                [
                    "label",
                    "N",
                    "bias",
                    "σ",
                    "robust σ",
                    "|Δ| ≤ σ*",
                    "|Δ| ≤ 2σ*",
                    "median σ*",
                    "median e*",
                    "std(Δ/σ*)",
                ],
                rows,
                f"Accuracy, {SAMPLE_DISPLAY.get(s, s)} (Fig. 7, Sect. 3.4)",
            )
        )
        names = [n for n, _, _ in SNR_BINS]
        rows = []
        for label in LABELS:
            b = acc[label]["snr_bins"]
            rows.append(
                [DISPLAY[label]]
                + [f"{_fmt(label, b[n]['std'])} ({b[n]['n']})" for n in names]
                + [f"{_fmt(label, b[n]['bias'])}" for n in names]
            )
        parts.append(
            _table(
                ["label"] + [f"σ S/N {n} (N)" for n in names] + [f"bias S/N {n}" for n in names],
                rows,
                f"Precision per S/N bin, {SAMPLE_DISPLAY.get(s, s)} (Fig. 16)",
            )
        )
    for s, unc in figures["uncertainty"].items():
        rows = [
            [
                DISPLAY[label],
                _fmt(label, unc[label]["e"]["median"]),
                _fmt(label, unc[label]["e"]["p16"]),
                _fmt(label, unc[label]["e"]["p84"]),
                _fmt(label, unc[label]["sigma"]["median"]),
                _fmt(label, unc[label]["sigma"]["p16"]),
                _fmt(label, unc[label]["sigma"]["p84"]),
            ]
            for label in LABELS
        ]
        parts.append(
            _table(
                ["label", "median e*", "e* p16", "e* p84", "median σ*", "σ* p16", "σ* p84"],
                rows,
                f"Uncertainties, {SAMPLE_DISPLAY.get(s, s)} sample (Fig. 8)",
            )
        )
    ev = figures.get("ensemble_vs_members")
    if ev:
        rows = [
            [
                DISPLAY[label],
                ev[label]["n"],
                _fmt(label, ev[label]["ensemble_std"]),
                _fmt(label, ev[label]["member_std_median"]),
                _fmt(label, ev[label]["member_std_min"]),
                "–"
                if ev[label]["ensemble_over_member_std"] is None
                else f"{ev[label]['ensemble_over_member_std']:.3f}",
            ]
            for label in LABELS
        ]
        parts.append(
            _table(
                ["label", "N", "σ ensemble", "median σ member", "min σ member", "ratio"],
                rows,
                f"Ensemble mean vs {ev['n_members']} single members, held-out stars (Sect. 3.2)",
            )
        )
    flags = figures["flags"]
    groups = {"all": flags["all"], **flags["by_sample"]}
    rows = [
        [g, st["n"], st["n_invalid"], _pct(st["share_clean"])]
        + [_pct(st["digit_share"][d]) for d in FLAG_DIGITS]
        for g, st in groups.items()
    ]
    head = ["stars", "N", "invalid", "00000000"] + [FLAG_DISPLAY[d] for d in FLAG_DIGITS]
    parts.append(_table(head, rows, "flag_boundary: share of each digit set (Sect. 5)"))
    if flags.get("by_population"):
        rows = [
            [p, st["n"], _pct(st["share_flagged"])]
            + [_pct(st["digit_share"][d]) for d in FLAG_DIGITS]
            for p, st in sorted(flags["by_population"].items())
        ]
        parts.append(
            _table(
                ["population", "N", "flagged"] + [FLAG_DISPLAY[d] for d in FLAG_DIGITS],
                rows,
                "flag_boundary per population",
            )
        )
        ood = flags["out_of_distribution"]
        parts.append(
            _table(
                ["", "value"],
                [
                    ["populations outside the training set", ", ".join(ood["populations"])],
                    [
                        "share flagged, outside (N)",
                        f"{_pct(ood['share_flagged_ood'])} ({ood['n_ood']})",
                    ],
                    [
                        "share flagged, others (N)",
                        f"{_pct(ood['share_flagged_other'])} ({ood['n_other']})",
                    ],
                    ["share of flagged stars outside", _pct(ood["share_of_flagged_in_ood"])],
                ],
                "Flags and out-of-distribution populations (Sect. 5.3)",
            )
        )
    if figures.get("accuracy_by_population"):
        for s, pops in figures["accuracy_by_population"].items():
            rows = [
                [p]
                + [
                    f"{_fmt(k, st[k]['bias'])} / {_fmt(k, st[k]['std'])} ({st[k]['n']})"
                    for k in LABELS
                ]
                for p, st in sorted(pops.items())
            ]
            parts.append(
                _table(
                    ["population"] + [f"{DISPLAY[k]} b / σ (N)" for k in LABELS],
                    rows,
                    f"Accuracy per population, {SAMPLE_DISPLAY.get(s, s)}",
                )
            )
    parts.append("<h2>Plots</h2>")
    for file, caption in plots:
        parts.append(
            f"<figure><img src='{e(file)}' alt='{e(file)}' loading='lazy'>"
            f"<figcaption><code>{e(file)}</code>: {e(caption)}</figcaption></figure>"
        )
    if extra:
        parts.append(
            _table(["figure", "value"], [[k, v] for k, v in _flatten(extra)], "Further figures")
        )
    parts.append(
        _table(["setting", "value"], [[k, v] for k, v in _flatten(config)], "Configuration")
    )
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_report(
    out_dir: str | Path,
    data: ValidationData,
    *,
    title: str,
    config: Mapping[str, Any],
    extra_figures: Mapping[str, Any] | None = None,
    images: Mapping[str, str | Path] | None = None,
    dpi: int = 80,
) -> dict[str, Any]:
    """Write report.json, the PNG plots and index.html into out_dir (Sect. 4); return the figures.

    ``extra_figures`` (JSON-able) are stored under "extra" and tabulated; ``images`` (caption →
    PNG path) are copied next to the plots and shown after them.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    figures = compute_figures(data)
    plotters = {
        "residuals.png": lambda p: _plot_residuals(data, figures, p, dpi),
        "uncertainties.png": lambda p: _plot_uncertainties(data, p, dpi),
        "precision_snr.png": lambda p: _plot_snr(figures, p, dpi),
        "kiel.png": lambda p: _plot_kiel(data, p, dpi),
        "alpha_mh.png": lambda p: _plot_alpha(data, p, dpi),
        "flags.png": lambda p: _plot_flags(figures, p, dpi),
        "ensemble_members.png": lambda p: _plot_members(figures, p, dpi),
    }
    plots: list[tuple[str, str]] = []
    if len(data):
        for file, plot in plotters.items():
            if plot(out / file):
                plots.append((file, PLOTS[file]))
    for i, (caption, src) in enumerate((images or {}).items()):
        src = Path(src)
        name = f"extra_{i:02d}_{src.name}"
        if src.resolve() != (out / name).resolve():
            shutil.copyfile(src, out / name)
        plots.append((name, str(caption)))
    if extra_figures is not None:
        figures["extra"] = json.loads(json.dumps(extra_figures, default=_jsonable))
    generated = datetime.now(UTC).isoformat(timespec="seconds")
    report = _sanitise(
        {
            "title": title,
            "generated": generated,
            "paper": "Guiglion et al. 2024, A&A 682, A9, Sect. 4",
            "config": json.loads(json.dumps(config, default=_jsonable)),
            "plots": [{"file": f, "caption": c} for f, c in plots],
            "figures": figures,
        }
    )
    (out / "report.json").write_text(
        json.dumps(report, indent=1, ensure_ascii=False, allow_nan=False), encoding="utf-8"
    )
    (out / "index.html").write_text(
        _html(
            title,
            report["figures"],
            report["config"],
            plots,
            report["figures"].get("extra"),
            generated,
        ),
        encoding="utf-8",
    )
    return report["figures"]
