"""Total label uncertainties: ensemble spread ⊕ running dispersion (Sect. 3.4, 4.2).

Guiglion et al. 2024, Sect. 3.4: on the training sample, the running dispersion of
(CNN − APOGEE) as a function of each label is fitted by a polynomial (the green curve of Fig. 8);
Sect. 4.2: every star's total uncertainty is σ = sqrt(e² + dispersion(label)²), e being the
model-to-model standard deviation of the 28-model ensemble. Units are those of each label
(K for Teff, dex otherwise, see :data:`labeling.labels.UNITS`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .labels import LABELS

#: 1.4826 · MAD estimates σ of a Gaussian
MAD_TO_SIGMA = 1.4826


def label_bins(x_sorted: np.ndarray, n_bins: int, min_count: int) -> list[slice]:
    """Equal-width bins of the sorted label values, sparse ones merged: slices into x_sorted.

    ``n_bins`` bins of equal width span the central 99 % of the values (the rest joins the end
    bins); working inwards from each end towards the
    bin of the median, bins are merged until each holds at least ``min_count`` values, so the
    tails keep bins of their own (the metal-poor stars are not averaged with the disc).
    """
    n = x_sorted.size
    # the width from the central 99 %: a few extreme values go to the end bins, not stretch all
    lo, hi = np.percentile(x_sorted, [0.5, 99.5])
    edges = np.linspace(lo, hi, max(n_bins, 1) + 1)
    cuts = np.searchsorted(x_sorted, edges[1:-1], side="left")
    bounds = np.unique(np.concatenate([[0], cuts, [n]]))
    sizes = np.diff(bounds)
    middle = int(np.searchsorted(np.cumsum(sizes), n / 2))

    def grow(order: list[int]) -> list[list[int]]:
        groups, current = [], []
        for i in order:
            current.append(i)
            if sizes[current].sum() >= min_count:
                groups.append(current)
                current = []
        return groups + ([current] if current else [])

    left = grow(list(range(middle)))
    right = grow(list(range(len(sizes) - 1, middle, -1)))
    centre = [middle]
    # an unfinished group next to the middle joins it
    if left and sizes[left[-1]].sum() < min_count:
        centre = left.pop() + centre
    if right and sizes[right[-1]].sum() < min_count:
        centre = centre + right.pop()[::-1]
    groups = left + [centre] + [g[::-1] for g in reversed(right)]
    return [slice(int(bounds[g[0]]), int(bounds[g[-1] + 1])) for g in groups]


def running_dispersion(
    x_true: np.ndarray,
    residual: np.ndarray,
    n_bins: int = 20,
    min_count: int = 30,
    robust: bool = True,
    spread: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Running dispersion of ``residual`` (CNN − APOGEE) vs the label ``x_true`` (Sect. 3.4).

    Stars are sorted by ``x_true`` and cut into ``n_bins`` bins of equal width in the label,
    sparse bins merged until each holds ``min_count`` stars (:func:`label_bins`). Bins of the
    label, not of equal counts: the paper's precision falls from 0.06–0.08 dex at intermediate
    metallicity to 0.15 dex for the very metal-poor stars (Sect. 4.2), a few per cent of the
    sample that equal-count windows of a tenth of the stars averaged away (on the synthetic
    sky σ_* covered 42 % of the residuals of the 2 % most metal-poor stars with those windows,
    67 % with these bins; bench/coverage_by_label.py, docs/science.md). Per bin: the median label
    (the centre) and σ = sqrt(bias² + scatter²), with bias the median residual and scatter
    1.4826·MAD (``robust``), or the root mean square residual. The bias is included because
    where the network is biased (e.g. log g pulled towards the middle at the ends of the range)
    it is error that σ_* must cover. With ``spread`` (each star's model-to-model e of the
    predictions the residuals come from) the bin's mean e² is taken out,
    σ = sqrt(max(σ² − <e²>, 0)): σ_* = sqrt(e_*² + σ²) adds e_* back, and would count it twice
    otherwise. Any other known error in the residual goes in the same way: the pipeline can add
    the APOGEE label's own quoted error in quadrature
    (``PipelineConfig.dispersion_without_label_errors``), since the residual CNN − APOGEE
    carries APOGEE's noise, which is not the CNN's. NaN pairs are ignored.
    Returns ``(centres, sigma)``, both (n_bins at most,), in the label's units; empty arrays
    when fewer than ``min_count`` stars remain.
    """
    x = np.asarray(x_true, dtype=np.float64).ravel()
    r = np.asarray(residual, dtype=np.float64).ravel()
    if x.shape != r.shape:
        raise ValueError(f"x_true {x.shape} and residual {r.shape} differ")
    e = np.zeros_like(r) if spread is None else np.asarray(spread, dtype=np.float64).ravel()
    if e.shape != r.shape:
        raise ValueError(f"spread {e.shape} and residual {r.shape} differ")
    ok = np.isfinite(x) & np.isfinite(r) & np.isfinite(e)
    x, r, e = x[ok], r[ok], e[ok]
    if x.size < min_count:
        return np.empty(0), np.empty(0)
    order = np.argsort(x, kind="stable")
    x, r, e = x[order], r[order], e[order]
    centres, sigma = [], []
    for b in label_bins(x, n_bins, min_count):
        rb = r[b]
        if robust:
            bias = np.median(rb)
            s = np.hypot(bias, MAD_TO_SIGMA * np.median(np.abs(rb - bias)))
        else:
            s = np.sqrt(np.mean(rb**2))
        if spread is not None:
            s = np.sqrt(max(s**2 - np.mean(e[b] ** 2), 0.0))
        centres.append(np.median(x[b]))
        sigma.append(s)
    return np.array(centres), np.array(sigma)


@dataclass
class DispersionFit:
    """Polynomial fit of the running dispersion of one label (the curve of Fig. 8, Sect. 3.4).

    ``coef`` are the coefficients of a :class:`numpy.polynomial.Polynomial` on the scaled
    variable (``domain`` mapped to [-1, 1]); ``x_min``/``x_max`` the label range the fit covers
    (evaluation clamps to it: no extrapolation of the polynomial); ``floor`` the smallest
    running dispersion measured: the fitted σ never drops below it (so never negative).
    """

    label: str
    degree: int
    coef: list[float]
    domain: tuple[float, float]
    x_min: float
    x_max: float
    floor: float
    centres: list[float] = field(default_factory=list)
    sigma: list[float] = field(default_factory=list)

    @classmethod
    def fit(
        cls,
        x_true: np.ndarray,
        residual: np.ndarray,
        label: str = "",
        degree: int = 3,
        n_bins: int = 20,
        min_count: int = 30,
        robust: bool = True,
        spread: np.ndarray | None = None,
    ) -> DispersionFit:
        """Fit the running dispersion (see :func:`running_dispersion`) by a polynomial."""
        centres, sigma = running_dispersion(x_true, residual, n_bins, min_count, robust, spread)
        if centres.size == 0:
            raise ValueError(f"too few stars to fit the dispersion of {label or 'the label'}")
        deg = int(min(degree, max(centres.size - 1, 0)))
        if np.ptp(centres) == 0:  # a single label value: a constant
            poly = np.polynomial.Polynomial([float(np.median(sigma))], domain=[-1, 1])
        else:
            poly = np.polynomial.Polynomial.fit(centres, sigma, deg)
        return cls(
            label=label,
            degree=deg,
            coef=[float(c) for c in poly.coef],
            domain=(float(poly.domain[0]), float(poly.domain[1])),
            x_min=float(centres.min()),
            x_max=float(centres.max()),
            floor=float(max(sigma.min(), 0.0)),
            centres=[float(c) for c in centres],
            sigma=[float(s) for s in sigma],
        )

    def __call__(self, label_values: np.ndarray) -> np.ndarray:
        """σ (label units) at ``label_values``, clamped to [x_min, x_max]; NaN stays NaN."""
        x = np.clip(np.asarray(label_values, dtype=np.float64), self.x_min, self.x_max)
        poly = np.polynomial.Polynomial(self.coef, domain=list(self.domain), window=[-1, 1])
        return np.maximum(poly(x), self.floor)

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "degree": self.degree,
            "coef": list(self.coef),
            "domain": list(self.domain),
            "x_min": self.x_min,
            "x_max": self.x_max,
            "floor": self.floor,
            "centres": list(self.centres),
            "sigma": list(self.sigma),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DispersionFit:
        return cls(
            label=str(d["label"]),
            degree=int(d["degree"]),
            coef=[float(c) for c in d["coef"]],
            domain=(float(d["domain"][0]), float(d["domain"][1])),
            x_min=float(d["x_min"]),
            x_max=float(d["x_max"]),
            floor=float(d["floor"]),
            centres=[float(c) for c in d.get("centres", [])],
            sigma=[float(s) for s in d.get("sigma", [])],
        )


@dataclass
class DispersionModel:
    """One :class:`DispersionFit` per label, in :data:`LABELS` order (Sect. 3.4, 4.2).

    ``scale`` (one per label, default 1: the paper's σ_*) multiplies the dispersion term of σ_*,
    not the measured model-to-model spread e_*, so that σ_* ≥ e_* always; it is set by
    :meth:`calibrated` from stars that took no part in training.
    """

    fits: dict[str, DispersionFit]
    #: "true": dispersion fitted vs the APOGEE label (Sect. 3.4 text); "pred": vs the CNN label
    against: str = "true"
    scale: dict[str, float] | None = None

    @classmethod
    def fit(
        cls,
        true: np.ndarray,
        pred: np.ndarray,
        degree: int = 3,
        n_bins: int = 20,
        against: str = "true",
        min_count: int = 30,
        robust: bool = True,
        labels: tuple[str, ...] = LABELS,
        spread: np.ndarray | None = None,
    ) -> DispersionModel:
        """Fit from the training sample: ``true`` (APOGEE) and ``pred`` (CNN), both (N, 5).

        ``spread`` (N, 5): known errors of the residuals (the model-to-model e of ``pred``,
        ⊕ the reference labels' own errors if wanted), taken out of the dispersion.
        """
        true = np.asarray(true, dtype=np.float64)
        pred = np.asarray(pred, dtype=np.float64)
        if true.shape != pred.shape or true.ndim != 2 or true.shape[1] != len(labels):
            raise ValueError(f"true {true.shape} and pred {pred.shape} must be (N, {len(labels)})")
        if against not in ("true", "pred"):
            raise ValueError("against must be 'true' or 'pred'")
        x = true if against == "true" else pred
        fits = {
            name: DispersionFit.fit(
                x[:, j],
                pred[:, j] - true[:, j],
                label=name,
                degree=degree,
                n_bins=n_bins,
                min_count=min_count,
                robust=robust,
                spread=None if spread is None else np.asarray(spread)[:, j],
            )
            for j, name in enumerate(labels)
        }
        return cls(fits=fits, against=against)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.fits)

    def dispersion(self, pred: np.ndarray) -> np.ndarray:
        """Fitted dispersion (N, 5) at the predicted labels ``pred`` (N, 5)."""
        pred = np.asarray(pred, dtype=np.float64)
        return np.stack([self.fits[name](pred[:, j]) for j, name in enumerate(self.fits)], axis=1)

    def scales(self) -> np.ndarray:
        """(5,) the calibration factor of each label (ones when not calibrated)."""
        scale = self.scale or {}
        return np.array([float(scale.get(name, 1.0)) for name in self.fits])

    def total_sigma(self, pred: np.ndarray, e: np.ndarray) -> np.ndarray:
        """σ = sqrt(e² + (scale · dispersion(pred))²), (N, 5), label units (Sect. 4.2)."""
        e = np.asarray(e, dtype=np.float64)
        return np.hypot(e, self.scales() * self.dispersion(pred))

    def calibrated(
        self,
        reference: np.ndarray,
        pred: np.ndarray,
        e: np.ndarray,
        reference_error: np.ndarray | None = None,
    ) -> DispersionModel:
        """A copy whose σ_* covers 68.27 % of these stars' residuals, label by label.

        ``reference`` (N, 5): the stars' reference labels (APOGEE), with their own quoted errors
        ``reference_error`` (N, 5) or None; ``pred``, ``e``: the full ensemble's labels and
        model-to-model spread. The stars must have taken no part in training (the held-out
        calibration stars), since the members fit the others. Only the dispersion term is
        scaled; e and the reference's errors are not. See :func:`calibration_scale`.
        """
        dispersion = self.dispersion(pred)
        residual = np.asarray(pred, dtype=np.float64) - np.asarray(reference, dtype=np.float64)
        unscaled = np.asarray(e, dtype=np.float64)
        if reference_error is not None:
            unscaled = np.hypot(unscaled, np.asarray(reference_error, dtype=np.float64))
        scale = {
            name: calibration_scale(residual[:, j], dispersion[:, j], unscaled[:, j])
            for j, name in enumerate(self.fits)
        }
        return DispersionModel(fits=self.fits, against=self.against, scale=scale)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "against": self.against,
            "fits": [f.to_dict() for f in self.fits.values()],
        }
        if self.scale is not None:
            d["scale"] = dict(self.scale)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DispersionModel:
        fits = [DispersionFit.from_dict(f) for f in d["fits"]]
        scale = d.get("scale")  # versions written before calibration have none
        return cls(
            fits={f.label: f for f in fits},
            against=str(d.get("against", "true")),
            scale=None if scale is None else {k: float(v) for k, v in scale.items()},
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)

    @classmethod
    def from_json(cls, text: str) -> DispersionModel:
        return cls.from_dict(json.loads(text))


#: share of a Gaussian within ±1σ
ONE_SIGMA = 0.682689492


def calibration_scale(
    residual: np.ndarray,
    sigma: np.ndarray,
    unscaled: np.ndarray | None = None,
    target: float = ONE_SIGMA,
    min_scale: float = 0.1,
) -> float:
    """The factor k for which a share ``target`` of |residual| ≤ sqrt((k σ)² + u²).

    ``residual`` is CNN − reference, ``sigma`` the error term to scale and ``u`` the errors that
    are known and not scaled (zero if None): the reference's own quoted error, and e_* when only
    the dispersion is scaled. Star i is covered for every k ≥ k_i = sqrt(max(r_i² − u_i², 0))
    / σ_i, so k is the ``target`` quantile of the k_i: exact, no fitting. With u = 0 this is
    the usual variance scaling of regression uncertainties (calibrating σ on held-out data);
    with APOGEE's errors in u it aims σ_* at the CNN's own error, not the CNN's ⊕ APOGEE's.
    Never below ``min_scale``; NaN entries are ignored; 1.0 when no star is usable.
    """
    r = np.asarray(residual, dtype=np.float64).ravel()
    s = np.asarray(sigma, dtype=np.float64).ravel()
    u = np.zeros_like(r) if unscaled is None else np.asarray(unscaled, dtype=np.float64).ravel()
    ok = np.isfinite(r) & np.isfinite(s) & np.isfinite(u) & (s > 0)
    if not ok.any():
        return 1.0
    k = np.sqrt(np.maximum(r[ok] ** 2 - u[ok] ** 2, 0.0)) / s[ok]
    return float(max(np.quantile(k, target), min_scale))


def coverage(residual: np.ndarray, sigma: np.ndarray) -> tuple[float, float]:
    """Shares of |residual| ≤ σ and ≤ 2σ (Gaussian: 0.683, 0.954); NaN pairs ignored."""
    r = np.abs(np.asarray(residual, dtype=np.float64))
    s = np.broadcast_to(np.asarray(sigma, dtype=np.float64), r.shape)
    ok = np.isfinite(r) & np.isfinite(s)
    if not ok.any():
        return float("nan"), float("nan")
    r, s = r[ok], s[ok]
    return float(np.mean(r <= s)), float(np.mean(r <= 2 * s))
