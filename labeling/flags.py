"""flag_boundary: training-sample ranges (Table 1) and the t-SNE "training-like" test (Sect. 5).

Guiglion et al. 2024, Sect. 5.1-5.2: eight characters, in order Teff, log g, [M/H], [α/M],
[Fe/H], G, parallax, t-SNE; '0' inside the training sample's range / training-like, '1' outside.
The paper embeds training and observed spectra jointly; here new spectra are embedded into fixed
training maps with openTSNE's ``transform`` so each star gets an answer independent of the others
and the cost is linear in the number of stars (see docs/flags.md for the reasoning and figures).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import pickle
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # scipy is imported where a tree is built: the digits' declaration below is
    # imported by the Django models, which need none of it
    from scipy.spatial import cKDTree

from .augment import degrade
from .labels import LABEL_SPECS, LABELS, Label


@dataclass(frozen=True)
class FlagDigit:
    """One digit of flag_boundary: what it tests and how people read it."""

    key: str  # the Table 1 column it bounds ("teff", "phot_g_mean_mag"), or "tsne"
    display: str  # short, as tables and plots head it: "Teff", "G", "t-SNE"
    symbol: str  # ASCII, as column descriptions (and FITS headers) list it
    name: str  # in words, as the search form offers it: "G magnitude"
    #: True: '1' when the value lies outside the training sample's Table 1 range
    ranged: bool = True

    def words(self, outside: bool) -> str:
        """The digit's meaning in a sentence, as the star page says it."""
        if not self.ranged:
            verb = "is unlike" if outside else "resembles"
            return f"the spectrum {verb} the training spectra ({self.display})"
        where = "outside" if outside else "within"
        return f"{self.name} lies {where} the training sample's range"


def flag_digits(labels: tuple[Label, ...] = LABEL_SPECS) -> tuple[FlagDigit, ...]:
    """The digits of flag_boundary, in order (Sect. 5.2): one per label, G, parallax, t-SNE."""
    return (
        *(FlagDigit(x.name, x.display, x.symbol, x.display) for x in labels),
        FlagDigit("phot_g_mean_mag", "G", "G", "G magnitude"),
        FlagDigit("parallax", "ϖ", "parallax", "parallax"),
        FlagDigit("tsne", "t-SNE", "t-SNE", "t-SNE (spectrum unlike the training spectra)", False),
    )


FLAG_DIGITS: tuple[FlagDigit, ...] = flag_digits()
FLAG_ORDER: tuple[str, ...] = tuple(d.key for d in FLAG_DIGITS)
#: The columns of Table 1, in flag order: the labels, then G and parallax
RANGE_COLUMNS: tuple[str, ...] = tuple(d.key for d in FLAG_DIGITS if d.ranged)
FLAG_LENGTH = len(FLAG_DIGITS)  # 8
#: flag_boundary of a star inside the training sample on every digit: the recommended sample
CLEAN_FLAG = "0" * FLAG_LENGTH


def flag_description(digits: tuple[FlagDigit, ...] = FLAG_DIGITS) -> str:
    """What flag_boundary holds, in one line (the published column's description)."""
    names = ", ".join(d.symbol for d in digits)
    return f"{len(digits)} digits ({names}): 1 = outside the training sample (label extrapolated)"


# ---------------------------------------------------------------------------- Table 1 ranges
@dataclass
class TrainingRanges:
    """The training sample's range of each label, G (mag) and parallax (mas) (Table 1, Sect. 5.2).

    Default definition: the 0.1 and 99.9 percentiles of the training sample. A plain min/max
    lets one mis-parameterised or extreme star widen a range to where the CNN has no support;
    trimming 0.1 % per side (≈ 45 of the paper's 44 780 stars) keeps every populated part of the
    range while dropping such singletons. ``quantiles=(0, 100)`` gives the min/max definition.
    """

    lo: dict[str, float]
    hi: dict[str, float]
    quantiles: tuple[float, float] = (0.1, 99.9)

    @classmethod
    def from_training(
        cls,
        labels: np.ndarray,
        g_mag: np.ndarray,
        parallax: np.ndarray,
        quantiles: tuple[float, float] = (0.1, 99.9),
    ) -> TrainingRanges:
        """From the training sample: ``labels`` (N, 5) APOGEE labels, G (N,), parallax (N,)."""
        labels = np.asarray(labels, dtype=np.float64)
        if labels.ndim != 2 or labels.shape[1] != len(LABELS):
            raise ValueError(f"labels must be (N, {len(LABELS)}), got {labels.shape}")
        cols = np.column_stack(
            [labels, np.asarray(g_mag, np.float64), np.asarray(parallax, np.float64)]
        )
        lo = np.nanpercentile(cols, quantiles[0], axis=0)
        hi = np.nanpercentile(cols, quantiles[1], axis=0)
        return cls(
            lo={c: float(v) for c, v in zip(RANGE_COLUMNS, lo, strict=True)},
            hi={c: float(v) for c, v in zip(RANGE_COLUMNS, hi, strict=True)},
            quantiles=(float(quantiles[0]), float(quantiles[1])),
        )

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """(lo, hi), each (7,) in :data:`RANGE_COLUMNS` order."""
        return (
            np.array([self.lo[c] for c in RANGE_COLUMNS]),
            np.array([self.hi[c] for c in RANGE_COLUMNS]),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "quantiles": list(self.quantiles),
            "ranges": {c: [self.lo[c], self.hi[c]] for c in RANGE_COLUMNS},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainingRanges:
        r = d["ranges"]
        return cls(
            lo={c: float(r[c][0]) for c in RANGE_COLUMNS},
            hi={c: float(r[c][1]) for c in RANGE_COLUMNS},
            quantiles=(float(d["quantiles"][0]), float(d["quantiles"][1])),
        )


def boundary_flags(
    pred: np.ndarray,
    g_mag: np.ndarray,
    parallax: np.ndarray,
    training_like: np.ndarray,
    ranges: TrainingRanges,
) -> np.ndarray:
    """flag_boundary (N,) of 8-character '0'/'1' strings (dtype '<U8'), Sect. 5.2.

    Digits: Teff, log g, [M/H], [α/M], [Fe/H] (``pred`` (N, 5), CNN labels), G (mag),
    parallax (mas), t-SNE (``training_like`` False → '1'). A value outside [lo, hi] of
    ``ranges`` (bounds inclusive) or NaN gives '1'.
    """
    pred = np.asarray(pred, dtype=np.float64)
    n = pred.shape[0]
    if pred.shape != (n, len(LABELS)):
        raise ValueError(f"pred must be (N, {len(LABELS)}), got {pred.shape}")
    cols = np.empty((n, len(RANGE_COLUMNS)), dtype=np.float64)
    cols[:, : len(LABELS)] = pred
    cols[:, len(LABELS)] = np.asarray(g_mag, dtype=np.float64)
    cols[:, len(LABELS) + 1] = np.asarray(parallax, dtype=np.float64)
    lo, hi = ranges.bounds()
    with np.errstate(invalid="ignore"):
        inside = (cols >= lo) & (cols <= hi)  # NaN → False → '1'
    digits = np.empty((n, FLAG_LENGTH), dtype=np.uint8)
    digits[:, : len(RANGE_COLUMNS)] = ~inside
    tl = np.asarray(training_like, dtype=bool)
    if tl.shape != (n,):
        raise ValueError(f"training_like must be ({n},), got {tl.shape}")
    digits[:, -1] = ~tl
    digits += ord("0")
    return np.ascontiguousarray(digits).view(f"S{FLAG_LENGTH}").ravel().astype(f"U{FLAG_LENGTH}")


# ---------------------------------------------------------------------------- t-SNE reference
def _as_flux(spectra: np.ndarray) -> np.ndarray:
    """(M, 2401) float32; NaN pixels (should be filled by preprocessing already) → 1.0."""
    x = np.asarray(spectra, dtype=np.float32)
    if x.ndim == 3 and x.shape[2] == 1:
        x = x[:, :, 0]
    if x.ndim != 2:
        raise ValueError(f"spectra must be (M, n_pixels), got {x.shape}")
    if np.isnan(x).any():
        x = np.where(np.isnan(x), np.float32(1.0), x)
    return x


@dataclass
class TsneReference:
    """Fixed t-SNE maps of the training spectra, and the "training-like" test (Sect. 5.1).

    Built by :meth:`fit`. A new spectrum is projected on the training PCA basis, then:

    * neighbourhood test (the input space every map is built from): the mean distance to its
      ``k_input`` nearest training spectra must be below ``input_threshold``, or, given the
      spectrum's S/N, below ``input_threshold_by_snr`` interpolated at it;
    * residual test: the RMS flux (per pixel) left after projecting on the training PCA basis
      must be below ``residual_threshold`` (``residual_factor`` × the held-out percentile, so
      spectra a few times noisier than the training ones pass). It catches what the basis
      cannot represent and PCA distances therefore miss: pure noise, unseen features;
    * map test, per perplexity: placed into that map with :func:`embed_new` (openTSNE's
      transform), the mean distance to its ``k_map`` nearest training points in the map must be
      below ``map_thresholds[p]``.

    Training-like = all three, the map test in all maps. Thresholds are the ``percentile``
    (``map_percentile`` for the maps) of the same statistics for held-out training spectra (not
    in the PCA or the maps). Distances: PCA space in flux units, map space in t-SNE units.

    A noisy spectrum's neighbourhood distance is mostly its own noise, which does not shrink as
    the training sample grows, while the threshold set on S/N ≥ 30 spectra does. So the
    threshold is also set for the held-out spectra degraded to each S/N of ``snr_grid``
    (:func:`labeling.augment.degrade`, RVS-correlated noise): a spectrum is then compared with
    training spectra observed at its own S/N (docs/flags.md).
    """

    perplexities: tuple[int, ...]
    components: np.ndarray  # (n_components, n_pixels) PCA basis
    mean: np.ndarray  # (n_pixels,) mean training flux
    train_pca: np.ndarray  # (N, n_components) training spectra on the basis
    embeddings: dict[int, Any]  # perplexity -> openTSNE.TSNEEmbedding of train_pca
    input_threshold: float
    residual_threshold: float
    map_thresholds: dict[int, float]
    k_input: int = 10
    k_map: int = 10
    percentile: float = 99.5
    map_percentile: float = 99.9
    transform_params: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    #: S/N -> neighbourhood threshold for held-out spectra brought down to that S/N (empty: the
    #: constant ``input_threshold`` at every S/N, as for references fitted without S/N)
    input_threshold_by_snr: dict[float, float] = field(default_factory=dict)
    #: the maps' shared neighbour index in the PCA space (the training stars of train_pca)
    neighbours: ExactNeighbours = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.neighbours = _exact_neighbours(self.embeddings)

    @cached_property
    def map_trees(self) -> dict[int, cKDTree]:
        """A 2-D tree over each map's training points, built once for every call's test."""
        from scipy.spatial import cKDTree

        return {p: cKDTree(np.asarray(self.embeddings[p])) for p in self.perplexities}

    # ------------------------------------------------------------------ fit
    @classmethod
    def fit(
        cls,
        train_spectra: np.ndarray,
        perplexities: tuple[int, ...] = (30, 50, 75, 100),
        n_components_pca: int = 50,
        seed: int = 0,
        holdout: float = 0.1,
        k_input: int = 10,
        k_map: int = 10,
        percentile: float = 99.5,
        map_percentile: float = 99.9,
        residual_factor: float = 3.0,
        n_jobs: int = -1,
        tsne_params: dict[str, Any] | None = None,
        transform_params: dict[str, Any] | None = None,
        snr: np.ndarray | None = None,
        snr_grid: tuple[float, ...] = (15.0, 20.0, 25.0, 30.0, 40.0, 60.0, 100.0),
        count: Callable[[int, int], None] | None = None,
    ) -> TsneReference:
        """Fit PCA and one openTSNE map per perplexity on preprocessed training flux (N, 2401).

        A random ``holdout`` share of the training spectra (at least 50) is kept out of the
        PCA and the maps and transformed like new spectra to calibrate the thresholds at
        ``percentile`` (neighbourhood test) and ``map_percentile`` (map tests). ``tsne_params``
        go to ``openTSNE.TSNE`` (e.g. ``n_iter``), ``transform_params`` to :func:`embed_new`.
        With the training spectra's ``snr`` (N,), the neighbourhood threshold is also set at
        each S/N of ``snr_grid``, on the held-out spectra degraded to it where they are better.
        ``count(done, total)`` after each map (the maps are most of the time).
        """
        import openTSNE
        from scipy.spatial import cKDTree
        from sklearn.decomposition import PCA

        flux = _as_flux(train_spectra)
        n = len(flux)
        n_hold = int(min(max(round(holdout * n), 50), n // 2))
        rng = np.random.default_rng(seed)
        order = rng.permutation(n)
        hold, ref = np.sort(order[:n_hold]), np.sort(order[n_hold:])
        t0 = time.perf_counter()
        n_comp = int(min(n_components_pca, len(ref) - 1, flux.shape[1]))
        pca = PCA(  # flux[ref] is a copy already: PCA may centre it in place
            n_components=n_comp, svd_solver="randomized", random_state=seed, copy=False
        ).fit(flux[ref])
        components = pca.components_.astype(np.float32)
        mean = pca.mean_.astype(np.float32)
        x_ref = _project(flux[ref], mean, components)
        x_hold = _project(flux[hold], mean, components)
        t_pca = time.perf_counter() - t0

        params = {"n_jobs": n_jobs, "random_state": seed} | dict(tsne_params or {})
        tparams = dict(transform_params or {})
        embeddings: dict[int, Any] = {}
        map_thresholds: dict[int, float] = {}
        t_fit: dict[str, float] = {}
        for i, p in enumerate(perplexities):
            if count is not None:
                count(i, len(perplexities))
            t1 = time.perf_counter()
            p_eff = float(min(p, (len(ref) - 1) / 3))  # openTSNE needs 3·perplexity < N
            emb = openTSNE.TSNE(perplexity=p_eff, **params).fit(x_ref)
            _drop_p(emb)
            _exact_neighbours({0: emb})
            # centre once (openTSNE's own transform() re-centres the map in place on each call)
            emb -= (np.max(emb, axis=0) + np.min(emb, axis=0)) / 2
            embeddings[int(p)] = emb
            t_fit[str(p)] = time.perf_counter() - t1
            y_hold = embed_new(emb, x_hold, **tparams)
            d_hold = _mean_knn(cKDTree(np.asarray(emb)), y_hold, k_map)
            map_thresholds[int(p)] = float(np.percentile(d_hold, map_percentile))
        if count is not None:
            count(len(perplexities), len(perplexities))
        tree_ref = cKDTree(x_ref)
        d_in = _mean_knn(tree_ref, x_hold, k_input)
        input_threshold = float(np.percentile(d_in, percentile))
        by_snr: dict[float, float] = {}
        if snr is not None:
            snr_hold = np.asarray(snr, dtype=np.float64)[hold]
            # from high S/N down, never below the threshold above it nor the one for the
            # held-out spectra as they are (percentiles of finite samples need not be monotonic)
            floor = input_threshold
            for g in sorted(snr_grid, reverse=True):
                noisy = degrade(flux[hold], snr_hold, np.full(n_hold, g), rng)
                d_g = _mean_knn(tree_ref, _project(noisy, mean, components), k_input)
                floor = by_snr[float(g)] = max(float(np.percentile(d_g, percentile)), floor)
        res_hold = _residual_rms(flux[hold], x_hold, mean, components)
        residual_threshold = float(residual_factor * np.percentile(res_hold, percentile))
        info = {
            "n_train": int(n),
            "n_reference": int(len(ref)),
            "n_holdout": int(n_hold),
            "n_components_pca": n_comp,
            "explained_variance": float(pca.explained_variance_ratio_.sum()),
            "seed": int(seed),
            "tsne_params": {k: v for k, v in params.items() if _jsonable(v)},
            "seconds_pca": t_pca,
            "seconds_fit": t_fit,
            "held_out_snr_median": None if snr is None else float(np.median(snr_hold)),
        }
        return cls(
            perplexities=tuple(int(p) for p in perplexities),
            components=components,
            mean=mean,
            train_pca=x_ref.astype(np.float32),
            embeddings=embeddings,
            input_threshold=input_threshold,
            residual_threshold=residual_threshold,
            map_thresholds=map_thresholds,
            k_input=k_input,
            k_map=k_map,
            percentile=percentile,
            map_percentile=map_percentile,
            transform_params=tparams,
            info=info,
            input_threshold_by_snr=by_snr,
        )

    # ------------------------------------------------------------------ classify
    def distances(self, spectra: np.ndarray, batch_size: int = 10_000) -> dict[str, np.ndarray]:
        """Test statistics of (M, 2401) spectra: ``"input"``, ``"residual"``, ``"map_<p>"`` (M,)."""
        flux = _as_flux(spectra)
        keys = ["input", "residual", *(f"map_{p}" for p in self.perplexities)]
        out = {k: np.empty(len(flux)) for k in keys}
        for a in range(0, len(flux), batch_size):
            part = self.distances_of_scores(*self.scores(flux[a : a + batch_size]))
            for k in keys:
                out[k][a : a + len(part[k])] = part[k]
        return out

    def scores(self, spectra: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(PCA scores (M, n_components), reconstruction residual rms (M,)) of (M, 2401)
        spectra: all that the tests need of a spectrum, 51 numbers instead of 2 401."""
        flux = _as_flux(spectra)
        x = _project(flux, self.mean, self.components)
        return x, _residual_rms(flux, x, self.mean, self.components)

    def distances_of_scores(self, x: np.ndarray, residual: np.ndarray) -> dict[str, np.ndarray]:
        """:meth:`distances` from :meth:`scores`. Each map's gradient descent costs per
        iteration in proportion to the reference plus the new points, so many stars at once
        (a labelling chunk's scores, not a batch's spectra) cost less per star."""
        out = {"input": np.empty(len(x)), "residual": np.asarray(residual, dtype=np.float64)}
        for p in self.perplexities:
            y = embed_new(self.embeddings[p], x, **self.transform_params)
            out[f"map_{p}"] = _mean_knn(self.map_trees[p], y, self.k_map)
        # after the maps: their search of these rows answers it (k_input ≤ 3 × perplexity)
        k_input = min(self.k_input, self.neighbours.n_samples)
        out["input"] = self.neighbours.query(x, k_input)[1].mean(axis=1)
        return out

    def training_like(
        self, spectra: np.ndarray, snr: np.ndarray | None = None, batch_size: int = 10_000
    ) -> np.ndarray:
        """bool (M,): True where a preprocessed spectrum (M, 2401) at S/N ``snr`` (M,) is
        training-like (Sect. 5.1)."""
        return self.decide(self.distances(spectra, batch_size), snr)

    def input_thresholds(self, snr: np.ndarray | None, m: int) -> np.ndarray:
        """(m,) neighbourhood thresholds at S/N ``snr``: interpolated in ``input_threshold_by_snr``
        (its first value below the grid, its last above), else ``input_threshold``."""
        if snr is None or not self.input_threshold_by_snr:
            return np.full(m, self.input_threshold)
        grid = sorted(self.input_threshold_by_snr)
        values = [self.input_threshold_by_snr[g] for g in grid]
        snr = np.asarray(snr, dtype=np.float64)
        return np.interp(np.where(np.isfinite(snr), snr, grid[0]), grid, values)

    def decide(self, d: dict[str, np.ndarray], snr: np.ndarray | None = None) -> np.ndarray:
        """bool (M,) training-like from the statistics of :meth:`distances` (and the S/N)."""
        limit = self.input_thresholds(snr, len(d["input"]))
        ok = (d["input"] <= limit) & (d["residual"] <= self.residual_threshold)
        for p in self.perplexities:
            ok &= d[f"map_{p}"] <= self.map_thresholds[p]
        return ok

    # ------------------------------------------------------------------ persistence
    def save(self, directory: str | Path) -> Path:
        """Write ``meta.json``, ``arrays.npz`` and one pickled openTSNE map per perplexity.

        The maps are pickles: load only directories this software wrote.
        """
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        np.savez(
            d / "arrays.npz", components=self.components, mean=self.mean, train_pca=self.train_pca
        )
        for p in self.perplexities:
            with open(d / f"embedding_p{p}.pkl", "wb") as fh:
                pickle.dump(self.embeddings[p], fh, protocol=pickle.HIGHEST_PROTOCOL)
        meta = {
            "perplexities": list(self.perplexities),
            "input_threshold": self.input_threshold,
            "residual_threshold": self.residual_threshold,
            "map_thresholds": {str(p): t for p, t in self.map_thresholds.items()},
            "input_threshold_by_snr": {str(g): t for g, t in self.input_threshold_by_snr.items()},
            "k_input": self.k_input,
            "k_map": self.k_map,
            "percentile": self.percentile,
            "map_percentile": self.map_percentile,
            "transform_params": self.transform_params,
            "info": self.info,
        }
        (d / "meta.json").write_text(json.dumps(meta, indent=1))
        return d

    @classmethod
    def load(cls, directory: str | Path) -> TsneReference:
        d = Path(directory)
        meta = json.loads((d / "meta.json").read_text())
        with np.load(d / "arrays.npz") as z:
            components, mean, train_pca = z["components"], z["mean"], z["train_pca"]
        perplexities = tuple(int(p) for p in meta["perplexities"])
        embeddings = {}
        for p in perplexities:
            with open(d / f"embedding_p{p}.pkl", "rb") as fh:
                embeddings[p] = pickle.load(fh)  # noqa: S301 - our own files
            _drop_p(embeddings[p])  # versions saved before it kept the neighbour lists
        return cls(
            perplexities=perplexities,
            components=components,
            mean=mean,
            train_pca=train_pca,
            embeddings=embeddings,
            input_threshold=float(meta["input_threshold"]),
            residual_threshold=float(meta["residual_threshold"]),
            map_thresholds={int(p): float(t) for p, t in meta["map_thresholds"].items()},
            k_input=int(meta["k_input"]),
            k_map=int(meta["k_map"]),
            percentile=float(meta["percentile"]),
            map_percentile=float(meta["map_percentile"]),
            transform_params=dict(meta["transform_params"]),
            info=dict(meta["info"]),
            input_threshold_by_snr={
                float(g): float(t) for g, t in meta.get("input_threshold_by_snr", {}).items()
            },
        )


def embed_new(
    embedding: Any,
    x: np.ndarray,
    n_iter: int = 100,
    k: int = 25,
    perplexity: float = 5.0,
    learning_rate: float = 0.1,
    exaggeration: float = 1.5,
    momentum: float = 0.8,
    max_grad_norm: float = 0.25,
    negative_gradient_method: str = "fft",
) -> np.ndarray:
    """Positions (M, 2) of new points ``x`` in a fixed openTSNE map (the reference is unchanged).

    openTSNE's ``TSNEEmbedding.transform`` (median of the k nearest reference points, then
    gradient descent against the fixed reference), without its in-place re-centring of the map
    and with 100 instead of 250 iterations and the FFT gradient by default (≈ 2× faster each).
    """
    names = inspect.signature(embedding.affinities.to_new).parameters
    key = "perplexity" if "perplexity" in names else "perplexities"
    partial = embedding.prepare_partial(
        np.ascontiguousarray(x, dtype=np.float64),
        initialization="median",
        k=k,
        **{key: perplexity},
    )
    if n_iter > 0:
        partial.optimize(
            n_iter=n_iter,
            learning_rate=learning_rate,
            exaggeration=exaggeration,
            momentum=momentum,
            inplace=True,
            propagate_exception=True,
            max_grad_norm=max_grad_norm,
            negative_gradient_method=negative_gradient_method,
        )
    return np.asarray(partial, dtype=np.float64)


def _project(
    flux: np.ndarray, mean: np.ndarray, components: np.ndarray, rows: int = 2048
) -> np.ndarray:
    """PCA scores (float64 for openTSNE): (flux − mean) · componentsᵀ, ``rows`` at a time so
    that the float64 copy of a whole training sample (N × 2401 × 8 bytes) is never held."""
    basis = components.T.astype(np.float64)
    out = np.empty((len(flux), basis.shape[1]))
    for a in range(0, len(flux), rows):
        out[a : a + rows] = (flux[a : a + rows].astype(np.float64) - mean) @ basis
    return out


def _residual_rms(
    flux: np.ndarray, scores: np.ndarray, mean: np.ndarray, components: np.ndarray
) -> np.ndarray:
    """RMS per pixel of flux − (mean + scores · components), flux units."""
    recon = mean + scores.astype(np.float32) @ components
    return np.sqrt(np.mean((flux - recon) ** 2, axis=1, dtype=np.float64))


def _mean_knn(tree: cKDTree, x: np.ndarray, k: int) -> np.ndarray:
    """Mean Euclidean distance of each row of ``x`` to its k nearest points of ``tree``."""
    k = int(min(k, tree.n))
    dist, _ = tree.query(x, k=k)
    return dist.reshape(len(x), k).mean(axis=1)


class ExactNeighbours:
    """The neighbour index of the fitted maps, for placing new points: exact neighbours in the
    training PCA space from vectorised ``cKDTree`` queries, in place of openTSNE's Annoy index
    per map, which answers point by point through joblib (most of the t-SNE test's time,
    docs/benchmarks.md). Every map is fitted on the same training stars, so one index serves
    them all and remembers its last answer: a batch is searched once for the four maps and the
    neighbourhood test. Implements what openTSNE's ``to_new`` asks of an index.
    """

    def __init__(self, data: np.ndarray) -> None:
        from scipy.spatial import cKDTree

        self.data = np.ascontiguousarray(data, dtype=np.float64)
        self.n_samples = len(self.data)
        self._tree = cKDTree(self.data)
        self._last: tuple[tuple, np.ndarray, np.ndarray] | None = None

    def query(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(indices, distances), each (M, k), of the k nearest training points of each row,
        nearest first."""
        q = np.ascontiguousarray(query, dtype=np.float64)
        key = (q.shape, hashlib.blake2b(q.tobytes(), digest_size=16).digest())
        if self._last is None or self._last[0] != key or self._last[1].shape[1] < k:
            distances, indices = self._tree.query(q, k=k, workers=-1)
            self._last = (key, indices.reshape(len(q), k), distances.reshape(len(q), k))
        return self._last[1][:, :k], self._last[2][:, :k]

    def __reduce__(self):  # pickled as its data; the tree is rebuilt on load
        return (type(self), (self.data,))


def _exact_neighbours(embeddings: dict[int, Any]) -> ExactNeighbours:
    """Give the maps one :class:`ExactNeighbours` over their training stars (returned)."""
    first = next(iter(embeddings.values())).affinities.knn_index
    index = first if isinstance(first, ExactNeighbours) else ExactNeighbours(first.data)
    for emb in embeddings.values():
        if not np.array_equal(emb.affinities.knn_index.data, index.data):
            raise ValueError("t-SNE maps fitted on different training stars")
        emb.affinities.knn_index = index
    return index


def _drop_p(embedding: Any) -> None:
    """Drop what only the fit needed: the training affinity matrix P and the training stars'
    neighbour lists (openTSNE keeps them to change the perplexity later). ``transform`` needs
    the neighbour index and the positions; the rest was most of the pickle and of a
    labeller's memory (≈ 3·perplexity entries of each, per training star)."""
    aff = getattr(embedding, "affinities", None)
    if aff is None:
        return
    if hasattr(aff, "P"):
        aff.P = None
    for name in vars(aff):
        if name.endswith(("__neighbors", "__distances")):
            setattr(aff, name, None)


def _jsonable(v: Any) -> bool:
    return isinstance(v, str | int | float | bool) or v is None
