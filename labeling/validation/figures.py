"""The report's numbers (Guiglion et al. 2024, Sect. 4): accuracy and precision against the
reference labels (Fig. 7), per S/N bin (Fig. 16), coverage of σ_* (Fig. 8), the ensemble
against its members (Sect. 3.2), flag statistics (Sect. 5), and two versions compared.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..flags import FLAG_ORDER
from ..labels import LABELS, UNITS
from .data import (
    MAD_TO_SIGMA,
    OUT_OF_DISTRIBUTION,
    SAMPLES,
    SNR_BINS,
    ValidationData,
)

# ----------------------------------------------------------------------------- statistics


def finite_or_none(x: float) -> float | None:
    """x as a float, or None (JSON null) where it is not finite."""
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
        "bias": finite_or_none(r.mean()),
        "std": finite_or_none(r.std()),
        "robust_sigma": finite_or_none(MAD_TO_SIGMA * np.median(np.abs(r - med))),
        "median": finite_or_none(med),
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
    return finite_or_none(np.median(x)) if x.size else None


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
        entry["coverage_1sigma"] = finite_or_none(np.mean(absr <= c[cov])) if cov.any() else None
        entry["coverage_2sigma"] = (
            finite_or_none(np.mean(absr <= 2 * c[cov])) if cov.any() else None
        )
        zok = cov & (c > 0)
        entry["z_std"] = finite_or_none(np.std(r[zok] / c[zok])) if zok.any() else None
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
                    "median": finite_or_none(p50),
                    "p16": finite_or_none(p16),
                    "p84": finite_or_none(p84),
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
    nd = len(FLAG_ORDER)
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
        share = dict.fromkeys(FLAG_ORDER)
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
        "share_clean": finite_or_none(clean.mean()),
        "share_flagged": finite_or_none(1.0 - clean.mean()),
        "digit_share": {name: finite_or_none(d[:, i].mean()) for i, name in enumerate(FLAG_ORDER)},
    }


def _flags(data: ValidationData, ood_populations: Sequence[str]) -> dict[str, Any]:
    """flag_boundary statistics (Sect. 5): over all stars, per sample and per population."""
    digits, valid = parse_flags(data.flags)
    out: dict[str, Any] = {"digits": list(FLAG_ORDER), "all": _flag_stats(digits, valid)}
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
            "share_flagged_ood": finite_or_none(flagged[ood_v].mean()) if ood_v.any() else None,
            "share_flagged_other": finite_or_none(flagged[oth_v].mean()) if oth_v.any() else None,
            "share_of_flagged_in_ood": (
                finite_or_none(is_ood[valid & flagged].mean()) if (valid & flagged).any() else None
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
        med_std = finite_or_none(np.median(stds[fin])) if fin.any() else None
        out[label] = {
            "n": ens["n"],
            "ensemble_bias": ens["bias"],
            "ensemble_std": ens["std"],
            "ensemble_robust_sigma": ens["robust_sigma"],
            "member_std": [finite_or_none(s) for s in stds],
            "member_bias": [p["bias"] for p in per],
            "member_std_median": med_std,
            "member_std_min": finite_or_none(stds[fin].min()) if fin.any() else None,
            "member_robust_sigma_median": (
                finite_or_none(np.median(rob[np.isfinite(rob)])) if np.isfinite(rob).any() else None
            ),
            "ensemble_over_member_std": (
                finite_or_none(ens["std"] / med_std) if ens["std"] is not None and med_std else None
            ),
            # a sanity check: the ensemble mean should be the members' mean
            "max_abs_member_mean_minus_pred": _median_max(mean_dev),
        }
    return out


def _median_max(x: Any) -> float | None:
    x = np.asarray(x, dtype=np.float64)
    x = x[np.isfinite(x)]
    return finite_or_none(x.max()) if x.size else None


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
    return finite_or_none(b - a) if a is not None and b is not None else None


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
            for d in FLAG_ORDER
        },
    }
    return {"difference": "b - a", "accuracy": accuracy, "uncertainty": uncertainty, "flags": flags}
