"""Every figure the site draws, in one place: the catalogue overview (Kiel, [α/M]-[M/H], S/N,
flag digits), a star on those planes, its RVS spectrum with the lines marked, and the query
page's quick plot. Matplotlib (Agg) PNGs; catalogue figures are cached per published version
under ``var/<instance>/plots/`` and the stars' backgrounds are drawn from the same cached
sample, so a star page costs one small figure, not a catalogue query.
"""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from django.conf import settings

from archive.catalogue.models import ModelVersion
from labeling.flags import FLAG_DIGITS, FLAG_LENGTH
from labeling.labels import BY_NAME
from labeling.wavelength import WAVELENGTH_NM, air_to_vacuum_nm

from . import queries

if TYPE_CHECKING:
    from matplotlib.figure import Figure

OVERVIEW = ("kiel", "alpha_mh", "snr", "flags")
#: the Ca II triplet (air nm, as the paper names them) and the paper's main weaker lines
CA_TRIPLET = ((849.8, "Ca II"), (854.2, "Ca II"), (866.2, "Ca II"))
MAIN_LINES = (
    (846.841, "Fe I"),
    (851.407, "Fe I"),
    (861.180, "Fe I"),
    (862.160, "Fe I"),
    (864.847, "Si I"),
    (867.475, "Fe I"),
    (868.298, "Ti I"),
    (868.862, "Fe I"),
)
ACCENT = "#1f5fa8"
KIEL = (3300, 7500, -0.5, 5.5)  # Teff and log g extent of the Kiel diagrams
_lock = threading.Lock()  # one writer of a cache file at a time in a process

_STYLE = {
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 10,
    "figure.dpi": 110,
}


class _Pyplot:
    """matplotlib.pyplot (Agg, the site's style), imported when the first figure is drawn:
    every gunicorn worker imports this module with the URL map, and ~30 MB of matplotlib is
    more than a worker that serves only TAP and DataLink needs (docs/benchmarks.md)."""

    def __getattr__(self, name: str):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as pyplot

        pyplot.rcParams.update(_STYLE)
        globals()["plt"] = pyplot  # later calls go straight to pyplot
        return getattr(pyplot, name)


plt = _Pyplot()


def png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


# --- per published version: cached --------------------------------------------------------


def cache_dir(version: ModelVersion) -> Path:
    """One directory per version and publication (a re-published version is redrawn)."""
    stamp = version.published_at.strftime("%Y%m%dT%H%M%S") if version.published_at else "draft"
    return settings.VAR_DIR / settings.INSTANCE / "plots" / f"{version.pk}-{version.name}-{stamp}"


def _sample(version: ModelVersion) -> dict[str, np.ndarray]:
    path = cache_dir(version) / "sample.npz"
    with _lock:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            data = queries.catalogue_sample(version)
            data["flag_shares"] = np.array(queries.flag_shares(version))
            tmp = path.with_suffix(".tmp.npz")
            np.savez_compressed(tmp, **data)
            tmp.replace(path)
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def overview_png(version: ModelVersion, name: str) -> bytes:
    """A catalogue figure of the version, drawn once and then read from the cache."""
    if name not in OVERVIEW:
        raise KeyError(name)
    path = cache_dir(version) / f"{name}.png"
    if not path.exists():
        data = _sample(version)
        body = {"kiel": kiel, "alpha_mh": alpha_mh, "snr": snr_hist, "flags": flag_bars}[name](data)
        with _lock:
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(body)
            tmp.replace(path)
    return path.read_bytes()


_numbers: dict[Path, dict] = {}


def overview_numbers(version: ModelVersion) -> dict:
    """The numbers printed beside the figures (from the same cached sample; kept in memory,
    so the home page does not read the sample on every request)."""
    key = cache_dir(version)
    if key not in _numbers:
        _numbers[key] = _overview_numbers(version)
    return _numbers[key]


def _overview_numbers(version: ModelVersion) -> dict:
    data = _sample(version)
    shares = data["flag_shares"]
    return {
        "n": int(data["n"]),
        "clean_share": float(shares[-1]),
        "digit_shares": [(d.name, float(s)) for d, s in zip(FLAG_DIGITS, shares, strict=False)],
        "median_snr": float(np.nanmedian(data["snr"])) if data["snr"].size else None,
    }


def _kiel_axes(ax, data, *, colour: bool, star=None):
    ok = np.isfinite(data["teff"]) & np.isfinite(data["logg"])
    if colour:
        art = ax.hexbin(
            data["teff"][ok], data["logg"][ok], C=data["m_h"][ok], gridsize=(60, 35), extent=KIEL,
            reduce_C_function=np.median, cmap="viridis", mincnt=2, vmin=-1.5, vmax=0.5,
        )  # fmt: skip
    else:
        art = ax.hexbin(
            data["teff"][ok],
            data["logg"][ok],
            gridsize=(60, 35),
            extent=KIEL,
            bins="log",
            cmap="Greys",
            mincnt=1,
        )
    ax.set_xlim(7500, 3300)
    ax.set_ylim(5.5, -0.5)
    ax.set_xlabel(BY_NAME["teff"].axis)
    ax.set_ylabel(BY_NAME["logg"].axis)
    if star is not None:
        ax.plot(*star, marker="*", ms=16, color="#d62728", mec="white", mew=1.2, ls="none")
    return art


def _alpha_axes(ax, data, *, star=None):
    ok = np.isfinite(data["m_h"]) & np.isfinite(data["alpha_m"])
    art = ax.hexbin(
        data["m_h"][ok], data["alpha_m"][ok], gridsize=70, bins="log", cmap="magma_r", mincnt=1,
        extent=(-2.5, 0.7, -0.25, 0.55),
    )  # fmt: skip
    ax.set_xlim(-2.5, 0.7)
    ax.set_ylim(-0.25, 0.55)
    ax.set_xlabel(BY_NAME["m_h"].axis)
    ax.set_ylabel(BY_NAME["alpha_m"].axis)
    if star is not None:
        ax.plot(*star, marker="*", ms=16, color="#1f77b4", mec="white", mew=1.2, ls="none")
    return art


def kiel(data) -> bytes:
    fig, ax = plt.subplots(figsize=(5.2, 4.2))
    art = _kiel_axes(ax, data, colour=True)
    fig.colorbar(art, ax=ax, label=f"median {BY_NAME['m_h'].axis}")
    ax.set_title(f"Kiel diagram ({int(data['n']):,} stars)")
    return png(fig)


def alpha_mh(data) -> bytes:
    fig, ax = plt.subplots(figsize=(5.2, 4.2))
    art = _alpha_axes(ax, data)
    fig.colorbar(art, ax=ax, label="stars per cell")
    ax.set_title("[α/M] against [M/H]: thin and thick discs")
    return png(fig)


def snr_hist(data) -> bytes:
    fig, ax = plt.subplots(figsize=(5.2, 3.4))
    snr = data["snr"][np.isfinite(data["snr"]) & (data["snr"] > 0)]
    if snr.size:
        bins = np.logspace(np.log10(max(snr.min(), 1)), np.log10(snr.max() + 1), 50)
        ax.hist(snr, bins=bins, color=ACCENT, alpha=0.85)
        ax.set_xscale("log")
    ax.set_xlabel("RVS S/N (rvs_spec_sig_to_noise)")
    ax.set_ylabel("stars")
    ax.set_title("Signal-to-noise of the RVS spectra")
    return png(fig)


def flag_bars(data) -> bytes:
    shares = data["flag_shares"]
    names = [d.name.split(" (")[0] for d in FLAG_DIGITS]
    n = FLAG_LENGTH
    fig, ax = plt.subplots(figsize=(5.2, 3.4))
    y = np.arange(len(names))[::-1]
    ax.barh(y, 100 * shares[:n], color="#c4572a")
    for yi, s in zip(y, shares[:n], strict=True):
        ax.text(100 * s + 0.3, yi, f"{100 * s:.1f}%", va="center", fontsize=8)
    ax.set_yticks(y, [f"{i + 1}: {n}" for i, n in enumerate(names)])
    ax.set_xlabel("stars with the digit set to 1 (outside the training sample) [%]")
    ax.set_title(f"flag_boundary digits; all zeros: {100 * shares[n]:.1f}%")
    ax.set_xlim(0, max(5.0, 100 * float(shares[:n].max()) * 1.25))
    return png(fig)


def star_planes(version: ModelVersion, labels: dict) -> bytes:
    """The star on the Kiel and [α/M]-[M/H] planes of its catalogue."""
    data = _sample(version)
    fig, (a, b) = plt.subplots(1, 2, figsize=(9.6, 3.9))
    _kiel_axes(a, data, colour=False, star=(labels["teff"], labels["logg"]))
    a.set_title("Kiel diagram")
    _alpha_axes(b, data, star=(labels["m_h"], labels["alpha_m"]))
    b.set_title("[α/M] against [M/H]")
    fig.tight_layout()
    return png(fig)


def spectrum(flux: np.ndarray, error: np.ndarray, title: str) -> bytes:
    """The RVS spectrum with its error band, the Ca II triplet and the main lines marked; below,
    a zoom on each Ca II line."""
    wl = WAVELENGTH_NM
    fig = plt.figure(figsize=(10, 5.2))
    grid = fig.add_gridspec(2, 3, height_ratios=(1.5, 1), hspace=0.45, wspace=0.25)
    top = fig.add_subplot(grid[0, :])
    _spectrum_axes(top, wl, flux, error, labels=True)
    top.set_title(title, pad=26)
    top.set_xlim(wl[0], wl[-1])
    for i, (air, name) in enumerate(CA_TRIPLET):
        ax = fig.add_subplot(grid[1, i])
        centre = air_to_vacuum_nm(air)
        _spectrum_axes(ax, wl, flux, error, labels=False)
        ax.set_xlim(centre - 1.2, centre + 1.2)
        ax.set_title(f"{name} {air:.1f} nm", fontsize=9)
    return png(fig)


def _spectrum_axes(ax, wl, flux, error, labels: bool) -> None:
    ok = np.isfinite(flux)
    ax.fill_between(wl, flux - error, flux + error, where=ok, color="#9ab", alpha=0.5, lw=0)
    ax.plot(wl, flux, color="#1d2430", lw=0.7)
    ax.set_xlabel("vacuum wavelength [nm]")
    ax.set_ylabel("normalised flux")
    finite = flux[ok]
    if finite.size:
        ax.set_ylim(max(0.0, float(np.nanmin(finite)) - 0.05), float(np.nanmax(finite)) + 0.12)
    for air, name in CA_TRIPLET:
        ax.axvline(air_to_vacuum_nm(air), color="#d62728", lw=1.0, alpha=0.8)
        if labels:
            ax.annotate(
                name, (air_to_vacuum_nm(air), 1.0), xycoords=("data", "axes fraction"),
                ha="center", va="bottom", color="#d62728", fontsize=8,
            )  # fmt: skip
    for air, name in MAIN_LINES:
        ax.axvline(air_to_vacuum_nm(air), color="#1f5fa8", lw=0.7, ls=":", alpha=0.9)
        if labels:
            ax.annotate(
                name, (air_to_vacuum_nm(air), 1.0), xycoords=("data", "axes fraction"),
                ha="center", va="bottom", color="#1f5fa8", fontsize=7, rotation=90,
            )  # fmt: skip


#: past this many points a quick plot of two columns is a 2-D histogram, not a scatter
SCATTER_MAX = 10_000


def quick_figure(x: np.ndarray, y: np.ndarray | None, xname: str, yname: str | None) -> Figure:
    """A histogram of one column, a scatter of two, or their 2-D histogram past
    :data:`SCATTER_MAX` rows (a scatter of more only hides where the rows are)."""
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    if y is None:
        ax.hist(x[np.isfinite(x)], bins=40, color=ACCENT)
        ax.set_ylabel("rows")
    else:
        ok = np.isfinite(x) & np.isfinite(y)
        if ok.sum() > SCATTER_MAX:
            *_, mesh = ax.hist2d(x[ok], y[ok], bins=120, cmap="Blues", cmin=1, norm="log")
            fig.colorbar(mesh, ax=ax, label="rows")
        else:
            ax.scatter(x[ok], y[ok], s=6 if ok.sum() < 5000 else 1, color=ACCENT, alpha=0.7)
        ax.set_ylabel(yname)
    ax.set_xlabel(xname)
    return fig


def quick_plot(x: np.ndarray, y: np.ndarray | None, xname: str, yname: str | None) -> bytes:
    """:func:`quick_figure` as PNG (the query page's and the search results' quick look)."""
    return png(quick_figure(x, y, xname, yname))
