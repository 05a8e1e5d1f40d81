"""What the CNN sees: NaN-filled spectra, [0, 1]-scaled labels, photometry and XP (Sect. 2.1, 3.1).

Guiglion et al. 2024:

* Sect. 2.1 — NaN pixels of a mean RVS spectrum are replaced by the upper quartile (Q3) of that
  star's flux in three continuum windows, 8475-8495, 8561-8582 and 8627-8648 Å.
* Sect. 3.1 — labels, the magnitudes G, G_BP, G_RP (mag) and the parallax (mas) are scaled to
  [0, 1] (min-max); the 55 BP coefficients are divided by the first BP coefficient and the 55 RP
  coefficients by the first RP coefficient, then each coefficient is scaled to [0, 1].

Departure from the paper: the parallax enters as asinh(ϖ / s) with s = 0.1 mas before the
min-max scaling (:data:`PARALLAX_SOFTENING_MAS`; ``None`` restores the paper's linear ϖ). log g
follows from the luminosity, i.e. from G + 5 log10 ϖ; parallaxes span three decades (0.1 to
100 mas) with most stars below 1 mas, so linearly scaled they crowd into the bottom percent of
[0, 1] and a network must learn the logarithm from few stars. asinh is log-like above s and,
unlike a logarithm, defined for every parallax (the selection keeps ϖ > 0, but a star labelled
outside it is not refused). Measured on
the synthetic sky (docs/science.md): a small MLP on (G, BP, RP, ϖ) predicts log g to 0.80 dex
with linear ϖ and 0.14 dex with log ϖ.

All min-max ranges are those of the *training* sample (Sect. 2.6, Table 1). Nothing is clipped:
a star outside the training range gets scaled values below 0 or above 1, which is expected and
harmless for the network (the boundary flag of Sect. 5 reports such stars); the inverse
transform maps such values back exactly. The spectra themselves are already continuum
normalised and are not rescaled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .labels import LABELS, N_PIXELS, N_XP, PHOT_COLUMNS
from .wavelength import CONTINUUM_WINDOWS_A, WAVELENGTH_NM

if TYPE_CHECKING:  # only the type: keeps this module free of the store's zarr import
    from .dataset import StarSet

#: Names of the 110 XP coefficients: bp_0 … bp_54, rp_0 … rp_54
N_XP_BAND = N_XP // 2
XP_COLUMNS: tuple[str, ...] = tuple(f"{b}_{i}" for b in ("bp", "rp") for i in range(N_XP_BAND))
#: Value used for a spectrum with no finite pixel at all (the normalised continuum level)
EMPTY_SPECTRUM_FILL = 1.0
#: Softening of the parallax transform asinh(ϖ / s), mas (None: the paper's linear ϖ)
PARALLAX_SOFTENING_MAS: float | None = 0.1
FORMAT = "rvs-cnn-preprocessor/2"
#: Format 1 (linear parallax) still loads: what it means is unambiguous
_FORMATS_READ = {"rvs-cnn-preprocessor/1", FORMAT}
_PARALLAX = PHOT_COLUMNS.index("parallax")


def phot_features(phot: np.ndarray, parallax_softening_mas: float | None) -> np.ndarray:
    """G, BP, RP (mag) and the parallax as the network's photometric branch takes it.

    The parallax (mas) becomes asinh(ϖ / s) for a softening ``s`` (mas), or stays linear for
    ``None`` (the paper, Sect. 3.1). Returns a float64 copy.
    """
    out = np.array(phot, dtype=np.float64)
    if parallax_softening_mas is not None:
        out[..., _PARALLAX] = np.arcsinh(out[..., _PARALLAX] / parallax_softening_mas)
    return out


def continuum_mask(wavelength_nm: np.ndarray | None = None) -> np.ndarray:
    """Boolean mask of the pixels inside :data:`CONTINUUM_WINDOWS_A` (bounds inclusive)."""
    wl_a = 10.0 * np.asarray(WAVELENGTH_NM if wavelength_nm is None else wavelength_nm, float)
    mask = np.zeros(wl_a.shape, dtype=bool)
    for lo, hi in CONTINUUM_WINDOWS_A:
        mask |= (wl_a >= lo - 1e-6) & (wl_a <= hi + 1e-6)
    return mask


def fill_nan_flux(flux: np.ndarray, wavelength_nm: np.ndarray | None = None) -> np.ndarray:
    """Replace NaN (and ±inf) pixels by Q3 of the star's continuum-window flux (Sect. 2.1).

    ``flux``: (N, P) normalised flux (or one spectrum, (P,)); ``wavelength_nm``: the (P,) grid,
    default :data:`WAVELENGTH_NM`. Q3 is ``np.nanpercentile(..., 75)`` (linear interpolation)
    over the finite pixels of the three windows. Fallbacks the paper does not cover: if a star
    has no finite pixel in the windows, Q3 of all its finite pixels; if none at all,
    :data:`EMPTY_SPECTRUM_FILL`. Returns float32 of the input's shape; finite pixels unchanged.
    """
    flux = np.asarray(flux)
    one = flux.ndim == 1
    f = np.array(np.atleast_2d(flux), dtype=np.float32)  # a copy
    if f.ndim != 2:
        raise ValueError(f"flux must be (N, P) or (P,), got {flux.shape}")
    window = continuum_mask(wavelength_nm)
    if window.shape != (f.shape[1],):
        raise ValueError(f"wavelength grid {window.shape} does not match flux {f.shape}")
    bad = ~np.isfinite(f)
    rows = np.flatnonzero(bad.any(axis=1))
    if rows.size:
        sub = np.where(bad[rows], np.nan, f[rows]).astype(np.float64)
        win = sub[:, window]
        fill = np.full(rows.size, np.nan)
        ok = np.isfinite(win).any(axis=1)
        if ok.any():
            fill[ok] = np.nanpercentile(win[ok], 75, axis=1)
        some = ~ok & np.isfinite(sub).any(axis=1)
        if some.any():
            fill[some] = np.nanpercentile(sub[some], 75, axis=1)
        fill[~np.isfinite(fill)] = EMPTY_SPECTRUM_FILL
        f[rows] = np.where(bad[rows], fill[:, None].astype(np.float32), f[rows])
    return f[0] if one else f


@dataclass(frozen=True)
class MinMaxScaler:
    """Per-column min-max scaling to [0, 1] over the fitted (training) range.

    ``transform(x) = (x − min) / (max − min)`` column by column; a constant column
    (max = min, e.g. the first XP coefficient after normalisation) maps to 0. Values outside the
    fitted range are *not* clipped.
    """

    columns: tuple[str, ...]
    min: np.ndarray
    max: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", tuple(self.columns))
        object.__setattr__(self, "min", np.asarray(self.min, dtype=np.float64))
        object.__setattr__(self, "max", np.asarray(self.max, dtype=np.float64))
        k = len(self.columns)
        if self.min.shape != (k,) or self.max.shape != (k,):
            raise ValueError(f"min/max must be ({k},), got {self.min.shape}, {self.max.shape}")

    @classmethod
    def fit(cls, x: np.ndarray, columns: Sequence[str]) -> MinMaxScaler:
        """Fit on (N, k) values; non-finite values are ignored, a column with none raises."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(columns) or x.shape[0] == 0:
            raise ValueError(f"need (N>0, {len(columns)}) values, got {x.shape}")
        finite = np.isfinite(x)
        if not finite.any(axis=0).all():
            empty = [c for c, f in zip(columns, finite.any(axis=0), strict=True) if not f]
            raise ValueError(f"no finite value to fit in column(s) {empty}")
        lo = np.where(finite, x, np.inf).min(axis=0)
        hi = np.where(finite, x, -np.inf).max(axis=0)
        return cls(tuple(columns), lo, hi)

    @property
    def span(self) -> np.ndarray:
        span = self.max - self.min
        return np.where(span > 0, span, 1.0)

    def _check(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.shape[-1] != len(self.columns):
            raise ValueError(f"expected {len(self.columns)} columns, got shape {x.shape}")
        return x

    def transform(self, x: np.ndarray) -> np.ndarray:
        """(…, k) physical → scaled, float64 (outside [0, 1] for out-of-range values)."""
        return (self._check(x) - self.min) / self.span

    def inverse_transform(self, y: np.ndarray) -> np.ndarray:
        """(…, k) scaled → physical, float64."""
        return self._check(y) * self.span + self.min

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": list(self.columns),
            "min": [float(v) for v in self.min],
            "max": [float(v) for v in self.max],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MinMaxScaler:
        return cls(tuple(d["columns"]), np.array(d["min"], float), np.array(d["max"], float))


def xp_relative(xp: np.ndarray) -> np.ndarray:
    """(N, 110) BP then RP coefficients → each band divided by its first coefficient (Sect. 3.1).

    The first coefficient of a band is its integrated flux (> 0 for real XP spectra); a zero or
    missing one gives inf/NaN, which :meth:`Preprocessor.inputs` rejects.
    """
    xp = np.asarray(xp, dtype=np.float64)
    if xp.ndim != 2 or xp.shape[1] != N_XP:
        raise ValueError(f"xp must be (N, {N_XP}), got {xp.shape}")
    out = np.empty_like(xp)
    with np.errstate(divide="ignore", invalid="ignore"):
        for start in (0, N_XP_BAND):
            band = xp[:, start : start + N_XP_BAND]
            out[:, start : start + N_XP_BAND] = band / band[:, :1]
    return out


def normalise_xp(xp: np.ndarray, scaler: MinMaxScaler | None = None) -> np.ndarray:
    """XP coefficients as the CNN sees them (Sect. 3.1), (N, 110) float64.

    BP coefficients divided by the first BP coefficient, RP by the first RP coefficient
    (:func:`xp_relative`), then min-max scaled per coefficient with ``scaler`` (fitted on the
    training set's relative coefficients, see :class:`Preprocessor`). Without a scaler only
    the division is done.
    """
    rel = xp_relative(xp)
    return rel if scaler is None else scaler.transform(rel)


@dataclass(frozen=True)
class Preprocessor:
    """The fitted scalers of one model version (Sect. 3.1); saved with it as JSON.

    ``labels``: Teff (K), log g, [M/H], [α/M], [Fe/H] (dex) in :data:`LABELS` order;
    ``phot``: G, G_BP, G_RP (mag), parallax (mas) as in :data:`PHOT_COLUMNS`;
    ``xp``: the 110 relative XP coefficients (:data:`XP_COLUMNS`).
    """

    labels: MinMaxScaler
    phot: MinMaxScaler  # over phot_features(), not the raw parallax
    xp: MinMaxScaler
    parallax_softening_mas: float | None = None

    @classmethod
    def fit(
        cls, stars: StarSet, parallax_softening_mas: float | None = PARALLAX_SOFTENING_MAS
    ) -> Preprocessor:
        """Fit the ranges on the training stars (labels required)."""
        if stars.labels is None:
            raise ValueError("Preprocessor.fit needs a StarSet with labels")
        return cls(
            labels=MinMaxScaler.fit(stars.labels, LABELS),
            phot=MinMaxScaler.fit(phot_features(stars.phot, parallax_softening_mas), PHOT_COLUMNS),
            xp=MinMaxScaler.fit(xp_relative(stars.xp), XP_COLUMNS),
            parallax_softening_mas=parallax_softening_mas,
        )

    def phot_inputs(self, phot: np.ndarray) -> np.ndarray:
        """(k, 4) G, BP, RP (mag), ϖ (mas) → the scaled photometric inputs, float64."""
        return self.phot.transform(phot_features(phot, self.parallax_softening_mas))

    def inputs(self, stars: StarSet, indices: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """The network inputs of the stars at ``indices`` (default: all).

        Returns ``spectrum`` (k, 2401, 1), ``phot`` (k, 4) and ``xp`` (k, 110), all float32;
        spectra are read with ``stars.spectra.get`` and NaN-filled (:func:`fill_nan_flux`).
        Raises ValueError if a photometric value or XP coefficient is not finite (the Gaia cuts
        of :mod:`labeling.selection` guarantee complete inputs; nothing is invented here).
        """
        idx = np.arange(len(stars)) if indices is None else np.asarray(indices, dtype=np.int64)
        phot = self.phot_inputs(stars.phot[idx])
        xp = normalise_xp(stars.xp[idx], self.xp)
        for name, values in (("phot", phot), ("xp", xp)):
            bad = ~np.isfinite(values).all(axis=1)
            if bad.any():
                ids = np.asarray(stars.source_id)[idx][bad][:5].tolist()
                raise ValueError(f"{bad.sum()} star(s) with non-finite {name} inputs, e.g. {ids}")
        spectrum = fill_nan_flux(stars.spectra.get(idx))
        if spectrum.shape != (idx.size, N_PIXELS):
            raise ValueError(f"spectra must be ({idx.size}, {N_PIXELS}), got {spectrum.shape}")
        return {
            "spectrum": spectrum[:, :, None],
            "phot": phot.astype(np.float32),
            "xp": xp.astype(np.float32),
        }

    def targets(self, labels: np.ndarray) -> np.ndarray:
        """(k, 5) physical labels → scaled float32 network targets."""
        return self.labels.transform(labels).astype(np.float32)

    def labels_from_scaled(self, y: np.ndarray) -> np.ndarray:
        """(k, 5) network outputs → physical labels, float64 (K, dex)."""
        return self.labels.inverse_transform(y)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "labels": self.labels.to_dict(),
            "phot": self.phot.to_dict(),
            "xp": self.xp.to_dict(),
            "parallax_softening_mas": self.parallax_softening_mas,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Preprocessor:
        if d.get("format") not in _FORMATS_READ:
            raise ValueError(f"not a {FORMAT} preprocessor: format {d.get('format')!r}")
        out = cls(
            labels=MinMaxScaler.from_dict(d["labels"]),
            phot=MinMaxScaler.from_dict(d["phot"]),
            xp=MinMaxScaler.from_dict(d["xp"]),
            parallax_softening_mas=d.get("parallax_softening_mas"),  # format 1: linear
        )
        expected = {"labels": LABELS, "phot": PHOT_COLUMNS, "xp": XP_COLUMNS}
        for name, cols in expected.items():
            if getattr(out, name).columns != cols:
                raise ValueError(f"{name} columns {getattr(out, name).columns} != {cols}")
        return out
