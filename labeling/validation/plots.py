"""The report's PNG plots, each mirroring a figure of Guiglion et al. 2024."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from ..flags import CLEAN_FLAG, FLAG_ORDER
from ..labels import DISPLAY, LABELS
from .data import (
    FLAG_DISPLAY,
    MAD_TO_SIGMA,
    SAMPLE_COLOURS,
    SAMPLE_DISPLAY,
    SNR_BINS,
    UNITS,
    ValidationData,
    format_spread,
    format_value,
)
from .figures import finite_or_none, parse_flags, residual_stats


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
        st["max_abs"] = finite_or_none(np.abs(d[ok, j]).max()) if ok.any() else None
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
    _log_counts(ax, x, y, xe, ye, cmap)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)


def _log_counts(
    ax: Any, x: np.ndarray, y: np.ndarray, xe: np.ndarray, ye: np.ndarray, cmap: str, **kw: Any
) -> None:
    """Counts of (x, y) on the bin edges, log colour scale, empty bins left blank, rasterised."""
    n, _, _ = np.histogram2d(x, y, bins=(xe, ye))
    masked = np.ma.masked_where(n == 0, n).T
    ax.pcolormesh(xe, ye, masked, cmap=cmap, norm=LogNorm(vmin=1), rasterized=True, **kw)


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


def _bs_text(label: str, st: Mapping[str, Any]) -> str:
    return f"b = {format_value(label, st.get('bias'))}\nσ = {format_spread(st.get('std'))}"


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
            _log_counts(ax, lab[grey, it], lab[grey, ig], xe, ye, "Greys", alpha=0.6)
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
            _log_counts(ax, lab[ok, im], lab[ok, ia], xe, ye, "viridis")
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
    names = [FLAG_DISPLAY[d] for d in FLAG_ORDER] + [CLEAN_FLAG]
    x = np.arange(len(names))
    w = 0.8 / len(groups)
    for i, (g, st) in enumerate(groups.items()):
        vals = [st["digit_share"][d] for d in FLAG_ORDER] + [st["share_clean"]]
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
        ax.set_xlabel(f"share flagged (≠ {CLEAN_FLAG}) [%]")
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


#: file name → caption citing the paper figure the plot mirrors; {placeholders} are filled in
#: from the data the plot shows (:func:`captions`)
PLOTS: dict[str, str] = {
    "residuals.png": (
        "Residual (prediction − reference) vs reference label for the training sample "
        "(cross-validated) and the held-out stars, log density, with the running median (red) "
        "and ± the running robust σ (dotted); b and σ in the corner. Mirrors Fig. 7."
    ),
    "uncertainties.png": (
        "Model-to-model spread e_* (top, red) and total uncertainty σ_* (bottom, blue) vs "
        "predicted label for all stars of this report, with their running median; green: "
        "running robust σ of the training residuals. Mirrors Fig. 8 (Sect. 3.4)."
    ),
    "precision_snr.png": (
        "σ of (prediction − reference) per S/N bin (15–25, 25–35, 35–75, ≥ 75; solid) and the "
        "median quoted σ_* (dotted), training (orange) and held-out (green). Mirrors Fig. 16."
    ),
    "kiel.png": (
        "Kiel diagram of the predicted labels of {stars} (and of the reference labels where "
        f"known), coloured by the mean [M/H] of clean stars (flag '{CLEAN_FLAG}'); flagged "
        "stars as grey density. Mirrors Fig. 4 and Fig. 11."
    ),
    "alpha_mh.png": (
        "[α/M] vs [M/H] density of clean stars, predicted labels of {stars} (and reference "
        "labels where known). Mirrors Fig. 14."
    ),
    "flags.png": (
        "Share of stars with each flag_boundary digit set "
        f"({', '.join(FLAG_DISPLAY.values())}) and with '{CLEAN_FLAG}', per "
        "sample{populations}. Sect. 5."
    ),
    "ensemble_members.png": (
        "σ of each single member relative to the ensemble mean on the held-out stars: this "
        "version's {n_models} models, the prediction being their mean (Sect. 3.2; the paper's "
        "ensemble has 28)."
    ),
}


def captions(data: ValidationData, figures: Mapping[str, Any]) -> dict[str, str]:
    """The captions of :data:`PLOTS` for these data: they describe what each figure shows."""
    observed = int(np.count_nonzero(data.sample == "observed"))
    stars = (
        "the observed sample"
        if observed
        else "the training and held-out stars (this report has no observed sample)"
    )
    pops = figures["flags"].get("by_population")
    ev = figures.get("ensemble_vs_members") or {}
    fill = {
        "stars": stars,
        "populations": "; right panel: share flagged per population" if pops else "",
        "n_models": ev.get("n_members", "–"),
    }
    return {file: text.format(**fill) for file, text in PLOTS.items()}


def draw_plots(
    data: ValidationData, figures: Mapping[str, Any], out_dir: Path, dpi: int
) -> list[tuple[str, str]]:
    """Draw every plot of :data:`PLOTS` that has stars to show into out_dir; (file, caption)."""
    plotters = {
        "residuals.png": lambda p: _plot_residuals(data, figures, p, dpi),
        "uncertainties.png": lambda p: _plot_uncertainties(data, p, dpi),
        "precision_snr.png": lambda p: _plot_snr(figures, p, dpi),
        "kiel.png": lambda p: _plot_kiel(data, p, dpi),
        "alpha_mh.png": lambda p: _plot_alpha(data, p, dpi),
        "flags.png": lambda p: _plot_flags(figures, p, dpi),
        "ensemble_members.png": lambda p: _plot_members(figures, p, dpi),
    }
    if not len(data):
        return []
    text = captions(data, figures)
    return [(file, text[file]) for file, plot in plotters.items() if plot(out_dir / file)]
