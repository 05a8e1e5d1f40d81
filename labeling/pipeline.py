"""From a training StarSet to a model version, and from a version to catalogue labels.

The stages, each a plain function so that Celery tasks can run them on any worker:

1. :func:`plan` — held-out stars, the ensemble's train/validation splits, the preprocessing
   fitted on the training stars (Sect. 2, 3.1, 3.2);
2. :func:`train_one` — one ensemble member (an independent unit of work);
3. :func:`finalize_version` — cross-validated predictions on the training sample, the
   running-dispersion fits (Sect. 3.4), Table 1 ranges and the t-SNE reference (Sect. 5), the
   validation report (Sect. 4), all written as one immutable model version;
4. :class:`Labeller` / :func:`Labeller.label` — labels, e_*, σ_* and flag_boundary for any
   batch of stars (Table 2), streamed.

:func:`run` chains them in one process (tests, benchmarks, small skies).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from .config import PipelineConfig
from .dataset import StarSet
from .ensemble import (
    CompiledEnsemble,
    make_splits,
    member_seed,
    predict_ensemble,
    train_member,
)
from .flags import TrainingRanges, TsneReference, boundary_flags
from .labels import LABELS
from .preprocess import Preprocessor
from .uncertainty import DispersionModel
from .validation import ValidationData, write_report
from .version import LoadedVersion, load_version, save_version, starset_hash

#: stars placed into the t-SNE maps together when labelling: a prediction chunk (20 000) in one
#: go; their PCA scores are 50 numbers a star, so this costs ~8 MB
TSNE_ROWS = 20_000


@dataclass
class Plan:
    """Which stars train, validate and are held out; the fitted preprocessing."""

    train: np.ndarray  # indices into the training StarSet used by the ensemble
    holdout: np.ndarray  # indices never trained on
    splits: list[tuple[np.ndarray, np.ndarray]]  # into ``train``
    preprocessor: Preprocessor

    def save(self, directory: Path) -> None:
        """Write the plan so that workers on other machines train exactly the same members."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        arrays = {"train": self.train, "holdout": self.holdout}
        for i, (tr, va) in enumerate(self.splits):
            arrays[f"split{i}_train"], arrays[f"split{i}_val"] = tr, va
        np.savez(directory / "plan.npz", **arrays)
        (directory / "preprocessor.json").write_text(json.dumps(self.preprocessor.to_dict()))

    @classmethod
    def load(cls, directory: Path) -> Plan:
        directory = Path(directory)
        with np.load(directory / "plan.npz") as z:
            n = sum(1 for k in z.files if k.endswith("_val"))
            splits = [(z[f"split{i}_train"], z[f"split{i}_val"]) for i in range(n)]
            train, holdout = z["train"], z["holdout"]
        prep = Preprocessor.from_dict(json.loads((directory / "preprocessor.json").read_text()))
        return cls(train=train, holdout=holdout, splits=splits, preprocessor=prep)

    def calibration_folds(self, config: PipelineConfig) -> list[np.ndarray]:
        """The two halves of the held-out stars that calibrate σ_* (none without calibration).

        σ_* is scaled on all of them; the report validates each half with the scale set on the
        other. The held-out stars are a random draw, so alternate ones are too.
        """
        if not config.calibrate_sigma:
            return []
        return [self.holdout[0::2], self.holdout[1::2]]

    def member_jobs(self, config: PipelineConfig) -> list[tuple[int, int]]:
        """(split, member) of every ensemble member, split-major."""
        e = config.ensemble
        return [(s, m) for s in range(e.n_splits) for m in range(e.n_members)]


def plan(stars: StarSet, config: PipelineConfig) -> Plan:
    """Hold out a fraction of the labelled stars, split the rest, fit the scalers (Sect. 3.1)."""
    if stars.labels is None:
        raise ValueError("the training StarSet needs labels")
    rng = np.random.default_rng(config.seed)
    order = rng.permutation(len(stars))
    n_hold = int(round(config.holdout_fraction * len(stars)))
    holdout, train = np.sort(order[:n_hold]), np.sort(order[n_hold:])
    splits = make_splits(train.size, config.ensemble)
    return Plan(
        train=train,
        holdout=holdout,
        splits=splits,
        preprocessor=Preprocessor.fit(stars.subset(train)),
    )


def member_file(directory: Path, split: int, member: int) -> Path:
    return Path(directory) / f"split{split:02d}_member{member:02d}.keras"


def train_one(
    stars: StarSet, the_plan: Plan, config: PipelineConfig, split: int, member: int, directory: Path
):
    """Train ensemble member ``member`` of split ``split`` (Sect. 3.2); returns MemberResult."""
    return train_member(
        stars.subset(the_plan.train),
        the_plan.preprocessor,
        the_plan.splits[split],
        member_seed(config.ensemble, split, member),
        config.ensemble,
        member_file(directory, split, member),
    )


#: ``count(unit, done, total)``: how far a long step is (``done`` 0 when it begins), so that a
#: caller can show it and estimate the time left
Count = Callable[[str, int, int], None]


def _no_count(unit: str, done: int, total: int) -> None:
    pass


def cross_validated(
    members: list,
    stars: StarSet,
    prep: Preprocessor,
    splits: list[tuple[np.ndarray, np.ndarray]],
    n_members: int,
    count: Count = _no_count,
) -> tuple[np.ndarray, np.ndarray]:
    """(N, 5) mean prediction of each star by the members that did not train on it, and the
    (N, 5) model-to-model spread e of those members.

    A star is in the validation part of about a quarter of the splits; stars that were never
    validated (≈ 0.75^n_splits of them) get NaN.
    """
    n = len(stars)
    total, total_sq = np.zeros((n, len(LABELS))), np.zeros((n, len(LABELS)))
    seen = np.zeros(n)
    count("splits", 0, len(splits))
    for s, (_, val) in enumerate(splits):
        group = members[s * n_members : (s + 1) * n_members]
        pred = predict_ensemble(group, stars, prep, indices=np.asarray(val), return_members=True)
        y = pred.members.astype(np.float64)  # (M, k, 5)
        total[val] += y.sum(axis=0)
        total_sq[val] += (y**2).sum(axis=0)
        seen[val] += len(group)
        count("splits", s + 1, len(splits))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(seen[:, None] > 0, total / seen[:, None], np.nan)
        spread = np.sqrt(np.maximum(total_sq / seen[:, None] - mean**2, 0.0))
    return mean, np.where(seen[:, None] > 0, spread, np.nan)


def release_memory() -> None:
    """Hand memory freed by a finished step back to the system (glibc's ``malloc_trim``).

    Arrays freed by a step stay in the C heap, and the next step's peak lands on top of them:
    finalize's steps each allocate hundreds of MB. A no-op where the C library has no
    ``malloc_trim``."""
    import contextlib
    import ctypes
    import ctypes.util
    import gc

    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)


def finalize_version(
    path: Path,
    stars: StarSet,
    the_plan: Plan,
    config: PipelineConfig,
    member_paths: list[Path],
    *,
    extra_config: dict | None = None,
    progress: Callable[[str], None] = lambda msg: None,
    count: Count = _no_count,
) -> LoadedVersion:
    """Turn trained members into a complete, immutable model version at ``path``: the t-SNE
    reference, the running dispersion on cross-validated predictions, the Table 1 ranges, σ_*
    calibrated on the held-out stars, the validation report, then the version's files.
    ``progress(message)`` names each step; ``count`` tells how far the long ones are (t-SNE
    maps fitted, splits cross-validated, training stars labelled for the report)."""
    from .ensemble import load_member

    train, prep = stars.subset(the_plan.train), the_plan.preprocessor
    # the t-SNE maps first, before the 28 members and their cross-validated predictions are
    # held: the step that needs most memory then starts from the least (issue 25.3)
    progress("t-SNE reference of the training spectra")
    tsne = _tsne_reference(train, prep, config, count)
    release_memory()
    members = [load_member(p) for p in member_paths]
    progress("cross-validated predictions of the training sample")
    cv, cv_spread, dispersion = _fit_dispersion(members, train, the_plan, config, count)
    release_memory()
    ranges = TrainingRanges.from_training(train.labels, train.phot[:, 0], train.phot[:, 3])
    labeller = Labeller(CompiledEnsemble(members), prep, dispersion, ranges, tsne)
    # the held-out stars are labelled once: they calibrate σ_* and go into the report
    progress("labelling the held-out stars")
    hold = stars.subset(the_plan.holdout)
    held = labeller.label(hold, return_members=True)
    calibration = _calibrate_on_heldout(labeller, hold, held, the_plan, config, progress)
    labeller = calibration.labeller
    release_memory()
    progress("validation report")
    labelled = labeller.label(train, count=count)
    in_sample = cross_validated_labelled(labelled, cv, cv_spread, train.phot, labeller)
    parts = [("training", train, in_sample, None, labeller.dispersion)] + [
        ("heldout", hold.subset(rows), held.subset(rows), None, d or labeller.dispersion)
        for rows, d in calibration.validation_dispersion
    ]
    # σ_* without APOGEE's noise is checked against APOGEE with that noise added back
    data = _validation_data(parts, config.dispersion_without_label_errors)
    return _save_version(
        path, stars, the_plan, config, member_paths, labeller, calibration, data, extra_config
    )


def _fit_dispersion(
    members: list, train: StarSet, the_plan: Plan, config: PipelineConfig, count: Count
) -> tuple[np.ndarray, np.ndarray, DispersionModel]:
    """(cross-validated predictions, their spread, the running dispersion fitted on them)."""
    cv, cv_spread = cross_validated(
        members, train, the_plan.preprocessor, the_plan.splits, config.ensemble.n_members, count
    )
    known = cv_spread
    if config.dispersion_without_label_errors and train.label_errors is not None:
        known = np.hypot(cv_spread, np.nan_to_num(train.label_errors, nan=0.0))
    ok = np.all(np.isfinite(cv), axis=1)
    dispersion = DispersionModel.fit(
        train.labels[ok],
        cv[ok],
        degree=config.dispersion_degree,
        against=config.dispersion_against,
        spread=known[ok],
    )
    return cv, cv_spread, dispersion


def _tsne_reference(
    train: StarSet, prep: Preprocessor, config: PipelineConfig, count: Count = _no_count
) -> TsneReference:
    """The t-SNE reference of (up to ``tsne_max_stars``) training spectra."""
    rng = np.random.default_rng(config.seed)
    pick = np.sort(rng.permutation(len(train))[: config.tsne_max_stars])
    # preprocessed a batch at a time: its float64 temporaries never span the whole sample
    spectra = None
    for a in range(0, len(pick), 2048):
        part = prep.inputs(train, pick[a : a + 2048])["spectrum"][..., 0]
        if spectra is None:
            spectra = np.empty((len(pick), part.shape[1]), np.float32)
        spectra[a : a + len(part)] = part
    return TsneReference.fit(
        spectra,
        perplexities=config.tsne_perplexities,
        seed=config.seed,
        snr=train.snr[pick],
        count=lambda done, total: count("t-SNE maps", done, total),
    )


@dataclass
class _Calibration:
    """σ_* calibrated on the held-out stars, and how each held-out half is validated."""

    labeller: Labeller  # with the calibrated dispersion
    folds: list[np.ndarray]
    #: (held-out rows, the dispersion their σ_* is validated with; None: the labeller's)
    validation_dispersion: list[tuple[np.ndarray, DispersionModel | None]]
    fold_scales: list | None


def _calibrate_on_heldout(
    labeller: Labeller,
    hold: StarSet,
    held: Labelled,
    the_plan: Plan,
    config: PipelineConfig,
    progress: Callable[[str], None],
) -> _Calibration:
    """σ_* scaled on the held-out stars; each half's σ_* in the report is scaled on the other
    half (no calibration folds: σ_* as is)."""
    folds = the_plan.calibration_folds(config)
    if not folds or not len(hold):
        return _Calibration(labeller, folds, [(np.arange(len(hold)), None)], None)
    progress("calibrating sigma on held-out stars")
    errors = hold.label_errors if config.dispersion_without_label_errors else None

    def calibrated_on(rows: np.ndarray) -> DispersionModel:
        err = None if errors is None else errors[rows]
        return labeller.dispersion.calibrated(
            hold.labels[rows], held.labels[rows], held.e[rows], err
        )

    halves = [np.searchsorted(the_plan.holdout, f) for f in folds]
    by_half = [calibrated_on(rows) for rows in halves]
    dispersion = calibrated_on(np.arange(len(hold)))
    return _Calibration(
        replace(labeller, dispersion=dispersion),
        folds,
        [(halves[0], by_half[1]), (halves[1], by_half[0])],
        [d.scale for d in by_half],
    )


def _save_version(
    path: Path,
    stars: StarSet,
    the_plan: Plan,
    config: PipelineConfig,
    member_paths: list[Path],
    labeller: Labeller,
    calibration: _Calibration,
    data: ValidationData,
    extra_config: dict | None,
) -> LoadedVersion:
    """The validation report and every artefact, written as one immutable version."""
    dispersion, folds = labeller.dispersion, calibration.folds
    work = Path(tempfile.mkdtemp(prefix="version-"))
    try:
        tsne_dir = labeller.tsne.save(work / "tsne")
        report = work / "validation"
        full_config = {"pipeline": config.to_dict(), **(extra_config or {})}
        calibration_figures = {
            "sigma_calibration_stars": int(sum(f.size for f in folds)),
            "sigma_scale": dispersion.scale,  # None: the paper's σ_*, not calibrated
            # the scales that σ_* of each held-out half is validated with
            "sigma_scale_cross_fitted": calibration.fold_scales,
        }
        write_report(
            report,
            data,
            title=f"Model version {Path(path).name}",
            config=full_config,
            extra_figures=calibration_figures,
        )
        version = save_version(
            path,
            members=member_paths,
            artifacts={
                "preprocessing": the_plan.preprocessor.to_dict(),
                "dispersion": dispersion.to_dict(),
                "ranges": labeller.ranges.to_dict(),
                "samples": {
                    "train": the_plan.train.tolist(),
                    "holdout": the_plan.holdout.tolist(),
                    "calibration_folds": [f.tolist() for f in folds],
                    "source_id": stars.source_id.tolist(),
                },
            },
            files={"tsne": tsne_dir, "validation": report},
            config=full_config,
            data_hash=starset_hash(stars),
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return load_version(version)


def cross_validated_labelled(
    out: Labelled,
    cv: np.ndarray,
    cv_spread: np.ndarray,
    phot: np.ndarray,
    labeller: Labeller,
) -> Labelled:
    """The training stars' labels, e_* and flags from the members that did not train on each
    star (:func:`cross_validated`), as the running dispersion was fitted; ``out`` (their
    in-sample labelling, whose t-SNE digit is kept) where no such member exists. σ_* follows
    from the new labels and e_*.
    """
    crossed = np.all(np.isfinite(cv), axis=1)
    labels, e, flags = out.labels.copy(), out.e.copy(), out.flags.copy()
    labels[crossed], e[crossed] = cv[crossed], cv_spread[crossed]
    like = np.char.endswith(flags[crossed].astype(str), "0")
    flags[crossed] = boundary_flags(
        labels[crossed], phot[crossed, 0], phot[crossed, 3], like, labeller.ranges
    )
    sigma = labeller.dispersion.total_sigma(labels, e)
    return Labelled(out.source_id, labels, e, sigma, flags)


def _validation_data(parts, with_label_errors: bool) -> ValidationData:
    """``parts``: (sample name, stars, their Labelled, cross-validated labels or None, the
    DispersionModel that gives their σ_*)."""
    cols: dict[str, list] = {
        k: []
        for k in ("source_id", "sample", "truth", "pred", "e", "sigma", "snr", "flags", "error")
    }
    members = []
    for name, stars, out, cv, dispersion in parts:
        if len(stars) == 0:
            continue
        pred = out.labels if cv is None else np.where(np.isfinite(cv), cv, out.labels)
        cols["source_id"].append(stars.source_id)
        cols["sample"].append(np.full(len(stars), name))
        cols["truth"].append(stars.labels)
        cols["pred"].append(pred)
        cols["e"].append(out.e)
        cols["sigma"].append(dispersion.total_sigma(pred, out.e))
        cols["snr"].append(stars.snr)
        cols["flags"].append(out.flags)
        no_errors = stars.label_errors is None or not with_label_errors
        cols["error"].append(np.zeros_like(pred) if no_errors else stars.label_errors)
        if out.members is not None:
            members.append(np.transpose(out.members, (1, 0, 2)))  # (k, M, 5)
    arrays = {k: np.concatenate(v) for k, v in cols.items()}
    error = arrays.pop("error")
    return ValidationData(
        **arrays,
        member_pred=np.concatenate(members) if members else None,
        truth_error=error,
    )


@dataclass
class Labelled:
    """Table 2 columns of a batch of stars."""

    source_id: np.ndarray
    labels: np.ndarray  # (N, 5) ensemble mean
    e: np.ndarray  # (N, 5) model-to-model std
    sigma: np.ndarray  # (N, 5) total uncertainty
    flags: np.ndarray  # (N,) 8-character flag_boundary
    members: np.ndarray | None = None  # (M, N, 5) when asked for

    def subset(self, rows: np.ndarray) -> Labelled:
        members = None if self.members is None else self.members[:, rows]
        return Labelled(
            self.source_id[rows],
            self.labels[rows],
            self.e[rows],
            self.sigma[rows],
            self.flags[rows],
            members,
        )


@dataclass
class LabelTimes:
    """Where labelling's time goes, in seconds summed over batches. ``inputs`` (store reads and
    preprocessing) runs in a second thread beside the ensemble; only ``waited``, the time the
    ensemble waited for it, adds to the stage. The caller adds what it does around
    :meth:`Labeller.label` (``load``: the catalogue rows; ``write``: the COPY of the labels)."""

    stars: int = 0
    load: float = 0.0
    inputs: float = 0.0
    waited: float = 0.0
    ensemble: float = 0.0
    tsne: float = 0.0
    flags: float = 0.0
    write: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}

    @property
    def serial(self) -> float:
        """Seconds on the labelling path (the prefetch thread's ``inputs`` excluded)."""
        return self.load + self.waited + self.ensemble + self.tsne + self.flags + self.write


@dataclass
class Labeller:
    """Everything needed to label stars with one model version."""

    ensemble: CompiledEnsemble
    preprocessor: Preprocessor
    dispersion: DispersionModel
    ranges: TrainingRanges
    tsne: TsneReference

    @classmethod
    def from_version(
        cls, version: LoadedVersion, threads: int | None = None, backend: str = "auto"
    ) -> Labeller:
        """The labeller of a saved version; ``threads`` caps ONNX Runtime's pool (None: all),
        ``backend`` is :class:`CompiledEnsemble`'s."""
        a = version.artifacts
        return cls(
            ensemble=CompiledEnsemble(version.members, threads=threads, backend=backend),
            preprocessor=Preprocessor.from_dict(a["preprocessing"]),
            dispersion=DispersionModel.from_dict(a["dispersion"]),
            ranges=TrainingRanges.from_dict(a["ranges"]),
            tsne=TsneReference.load(version.files["tsne"]),
        )

    def label(
        self,
        stars: StarSet,
        batch_size: int = 2048,
        *,
        return_members: bool = False,
        times: LabelTimes | None = None,
        count: Count = _no_count,
    ) -> Labelled:
        """Labels, e_*, σ_* and flag_boundary, reading each spectrum once (Table 2).

        The next batch's inputs (spectra read from the store, preprocessing) are prepared in a
        second thread while this batch runs through the ensemble and the t-SNE transform, so
        the stage costs little more than the ensemble; ``times`` collects where it went,
        ``count("stars", done, n)`` how far it is."""
        times = times if times is not None else LabelTimes()
        n = len(stars)
        labels, e = np.empty((n, len(LABELS))), np.empty((n, len(LABELS)))
        n_comp = len(self.tsne.components)
        scores, residual = np.empty((n, n_comp)), np.empty(n)
        members = np.empty((self.ensemble.n_members, n, len(LABELS))) if return_members else None
        batches = [np.arange(s, min(s + batch_size, n)) for s in range(0, n, batch_size)]

        def inputs(idx: np.ndarray) -> tuple[dict[str, np.ndarray], float]:
            t0 = time.perf_counter()
            return self.preprocessor.inputs(stars, idx), time.perf_counter() - t0

        count("stars", 0, n)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="label-inputs") as prefetch:
            ahead = prefetch.submit(inputs, batches[0]) if batches else None
            for k, idx in enumerate(batches):
                t0 = time.perf_counter()
                x, read = ahead.result()
                times.waited += time.perf_counter() - t0
                times.inputs += read
                if k + 1 < len(batches):
                    ahead = prefetch.submit(inputs, batches[k + 1])
                t0 = time.perf_counter()
                y = self.preprocessor.labels_from_scaled(self.ensemble(x))  # (M, k, 5)
                t1 = time.perf_counter()
                labels[idx], e[idx] = y.mean(axis=0), y.std(axis=0)
                scores[idx], residual[idx] = self.tsne.scores(x["spectrum"][..., 0])
                times.ensemble += t1 - t0
                times.tsne += time.perf_counter() - t1
                if members is not None:
                    members[:, idx] = y
                count("stars", int(idx[-1]) + 1, n)
        # the t-SNE maps take every star of the call at once (TSNE_ROWS at a time): their
        # cost per star falls with the number placed together (TsneReference.distances_of_scores)
        t0 = time.perf_counter()
        like = np.empty(n, dtype=bool)
        for a in range(0, n, TSNE_ROWS):
            rows = slice(a, a + TSNE_ROWS)
            d = self.tsne.distances_of_scores(scores[rows], residual[rows])
            like[rows] = self.tsne.decide(d, stars.snr[rows])
        times.tsne += time.perf_counter() - t0
        t0 = time.perf_counter()
        flags = boundary_flags(labels, stars.phot[:, 0], stars.phot[:, 3], like, self.ranges)
        sigma = self.dispersion.total_sigma(labels, e)
        times.flags += time.perf_counter() - t0
        times.stars += n
        return Labelled(
            source_id=stars.source_id, labels=labels, e=e, sigma=sigma, flags=flags, members=members
        )


def run(
    stars: StarSet,
    config: PipelineConfig,
    version_path: Path,
    work_dir: Path,
    progress: Callable[[str], None] = lambda msg: None,
) -> LoadedVersion:
    """All stages in this process: plan, train every member, finalize the version."""
    the_plan = plan(stars, config)
    paths = []
    for split, member in the_plan.member_jobs(config):
        progress(f"training split {split} member {member}")
        paths.append(train_one(stars, the_plan, config, split, member, work_dir).path)
    return finalize_version(version_path, stars, the_plan, config, paths, progress=progress)
