"""A training run's configuration as data: the network, the ensemble and the pipeline.

These dataclasses import neither Keras nor TensorFlow, so the web process can build its staff
form from them (``archive.ops``); :mod:`labeling.model`, :mod:`labeling.ensemble` and
:mod:`labeling.pipeline` re-export them. Every option a run can set is a field with its default
and a ``help`` in the field's metadata: the staff form and ``manage.py pipeline run`` are
generated from :meth:`PipelineConfig.options`, so a field added here reaches both.
"""

from __future__ import annotations

import types
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass
from typing import Any, Literal

from .labels import LABELS, N_PIXELS

Inputs = Literal["hybrid", "rvs_only"]
INPUT_KINDS: tuple[str, ...] = ("hybrid", "rvs_only")

#: the one default seed of a run: the hold-out draw, the splits, the members, the t-SNE picks
DEFAULT_SEED = 0


class ConfigError(ValueError):
    """A configuration that names an unknown option or gives a value of the wrong kind."""


def _opt(default: Any = MISSING, help: str = "", **meta: Any) -> Any:  # noqa: A002
    """A field with its help text (and ``option``, ``min``, ``max``) in its metadata."""
    if isinstance(default, list | dict | set):
        raise TypeError("mutable default")
    return field(default=default, metadata={"help": help, **meta})


@dataclass(frozen=True)
class ModelConfig:
    """Architecture and optimiser settings (Sect. 3.1); the defaults are the paper's network."""

    conv_filters: tuple[int, int, int] = (32, 16, 8)
    kernel_size: int = 8
    pool_size: int = 2
    conv_activation: str = "relu"
    spectrum_dense: int = 128
    phot_dense: int = 32
    xp_dense: int = 64
    head_dense: tuple[int, ...] = (128, 32)
    leaky_relu_slope: float = 0.3  # Keras 2 LeakyReLU default alpha, as in the paper's era
    learning_rate: float = 1e-3
    loss: str = "mse"
    n_pixels: int = N_PIXELS
    n_outputs: int = len(LABELS)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


@dataclass(frozen=True)
class EnsembleConfig:
    """Training settings of the ensemble (Sect. 3.1-3.2).

    The paper gives n_splits, n_members, the 75/25 ratio, ReduceLROnPlateau and early stopping
    with patience 20 (minimum typically reached after ~80 epochs); batch size and the
    ReduceLROnPlateau settings are not stated and are our choices.
    """

    n_splits: int = _opt(7, "random train/validation splits (the paper: 7)", option="splits", min=1)
    n_members: int = _opt(4, "members per split (the paper: 4)", option="members", min=1)
    validation_fraction: float = _opt(
        0.25, "share of each split's stars that validate (the paper: 0.25)", min=0.01, max=0.99
    )
    epochs: int = _opt(200, "most epochs a member trains", min=1)
    batch_size: int = _opt(64, "training batch size", min=1)
    val_batch_size: int = _opt(512, "validation batch size (no gradients: larger is faster)", min=1)
    patience: int = _opt(20, "early-stopping patience in epochs (the paper: 20)", min=1)
    lr_factor: float = _opt(0.5, "ReduceLROnPlateau factor", min=0.0, max=1.0)
    lr_patience: int = _opt(8, "ReduceLROnPlateau patience in epochs", min=1)
    min_lr: float = _opt(1e-6, "ReduceLROnPlateau floor of the learning rate", min=0.0)
    seed: int = _opt(DEFAULT_SEED, "the run's seed: hold-out draw, splits, members, t-SNE picks")
    inputs: Inputs = _opt("hybrid", "hybrid (spectrum, photometry, XP) or rvs_only")
    model: ModelConfig = field(default_factory=ModelConfig)
    # training spectra degraded towards S/N 15 (labeling/augment.py; None: the paper, none).
    # 0.8 of each batch: better than 0.5 at S/N 15–25 and over the whole observed sample
    # (docs/science.md, ninth and tenth measurements)
    augment_min_snr: float | None = _opt(
        15.0,
        "training spectra degraded towards this S/N (none or empty: no augmentation, the paper)",
    )
    augment_fraction: float = _opt(0.8, "share of each training batch degraded", min=0.0, max=1.0)
    workers: int = _opt(1, "threads preparing batches (1: in the training loop)", min=1)
    deterministic: bool = _opt(False, "TensorFlow op determinism (bit-identical reruns, slower)")
    verbose: int = _opt(0, "Keras progress output (0: none)", min=0, max=2)

    def __post_init__(self) -> None:
        if self.inputs not in INPUT_KINDS:
            raise ConfigError(f"inputs must be one of {INPUT_KINDS}, got {self.inputs!r}")

    @property
    def n_models(self) -> int:
        return self.n_splits * self.n_members

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["model"] = self.model.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EnsembleConfig:
        d = dict(d)
        if "model" in d:
            d["model"] = ModelConfig.from_dict(d["model"])
        return cls(**d)


@dataclass(frozen=True)
class ConfigOption:
    """One option of a run, as the staff form and the CLI offer it (from a dataclass field)."""

    name: str  # the field's name: unique across PipelineConfig and its EnsembleConfig
    kind: type  # int, float, str or bool
    default: Any
    help: str
    option: str  # the CLI's name, without the dashes
    choices: tuple[str, ...] = ()
    many: bool = False  # a tuple of ``kind`` (comma-separated on the command line)
    optional: bool = False  # None allowed (an empty form field)
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class PipelineConfig:
    """Everything that defines a training run, saved with the version (config as data).

    One seed: ``ensemble.seed`` draws the held-out stars, the splits, the members and the
    t-SNE picks (``seed`` reads it).
    """

    ensemble: EnsembleConfig = field(default_factory=EnsembleConfig)
    holdout_fraction: float = _opt(
        0.1, "training-sample stars never trained on, for validation", min=0.0, max=0.9
    )
    dispersion_degree: int = _opt(3, "degree of the running-dispersion polynomial", min=0)
    #: the running dispersion as a function of the APOGEE label ("true") or the CNN's ("pred")
    dispersion_against: Literal["true", "pred"] = _opt(
        "true", "running dispersion vs the APOGEE label (true) or the CNN label (pred)"
    )
    #: take the reference labels' quoted errors (APOGEE *_ERR) out of the running dispersion,
    #: so that σ_* is the CNN's error alone, not the CNN's ⊕ APOGEE's (the paper's σ_*: False)
    dispersion_without_label_errors: bool = _opt(
        True, "take APOGEE's quoted errors out of the running dispersion (the paper: no)"
    )
    #: scale σ_* per label so that it covers 68.27 % of the held-out stars' residuals; the
    #: report validates each half of them with the scale set on the other half (cross-fitting).
    #: The paper has no such step (False). docs/science.md: both departures, and why
    calibrate_sigma: bool = _opt(
        True, "scale sigma_* to cover 68.27 % of the held-out residuals (the paper: no)"
    )
    tsne_perplexities: tuple[int, ...] = _opt(
        (30, 50, 75, 100), "t-SNE perplexities of the flag reference", option="perplexities"
    )
    tsne_max_stars: int = _opt(20_000, "training spectra the t-SNE reference is built from", min=2)
    #: stars per prediction task of a run (a source_id range each); not used by :func:`run`
    chunk_size: int = _opt(20_000, "catalogue stars per prediction task", min=1)

    def __post_init__(self) -> None:
        if self.dispersion_against not in ("true", "pred"):
            raise ConfigError(
                f"dispersion_against must be true or pred, not {self.dispersion_against!r}"
            )
        if not self.tsne_perplexities:
            raise ConfigError("tsne_perplexities needs at least one perplexity")

    @property
    def seed(self) -> int:
        return self.ensemble.seed

    def to_dict(self) -> dict:
        d = asdict(self)
        d["ensemble"] = self.ensemble.to_dict()
        d["tsne_perplexities"] = list(self.tsne_perplexities)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> PipelineConfig:
        """The configuration of :meth:`to_dict`, or of any part of it; what is not given takes
        its default. Ensemble fields may sit under ``ensemble`` or at the top level (the flat
        form of the staff form, the CLI and runs stored before 2026-12). A top-level ``seed``
        (versions before the one seed) is the ensemble's unless that names its own.
        """
        d = dict(d)
        ensemble = dict(d.pop("ensemble", None) or {})
        legacy_seed = d.pop("seed", None)
        own = {f.name for f in fields(cls)}
        ensemble_names = {f.name for f in fields(EnsembleConfig)}
        for name in list(d):
            if name in own:
                continue
            if name not in ensemble_names:
                raise ConfigError(f"unknown run option {name!r}")
            if name in ensemble and ensemble[name] != d[name]:
                raise ConfigError(f"{name!r} given twice, {d[name]!r} and {ensemble[name]!r}")
            ensemble[name] = d.pop(name)
        if legacy_seed is not None:
            ensemble.setdefault("seed", legacy_seed)
        if "tsne_perplexities" in d:
            d["tsne_perplexities"] = tuple(int(p) for p in d["tsne_perplexities"])
        try:
            return cls(ensemble=EnsembleConfig.from_dict(ensemble), **d)
        except TypeError as exc:  # a value of the wrong shape reaches a dataclass
            raise ConfigError(str(exc)) from exc

    @classmethod
    def options(cls) -> list[ConfigOption]:
        """Every option a run can set: the ensemble's fields, then the pipeline's (the network's
        architecture, ``ensemble.model``, is the paper's and not offered)."""
        return _options(EnsembleConfig) + _options(cls)


def _options(cls: type) -> list[ConfigOption]:
    hints = typing.get_type_hints(cls)
    out = []
    for f in fields(cls):
        hint = hints[f.name]
        if is_dataclass(hint) or "help" not in f.metadata:
            continue
        kind, choices, many, optional = hint, (), False, False
        args = typing.get_args(hint)
        if isinstance(hint, types.UnionType) and type(None) in args:
            optional, kind = True, next(a for a in args if a is not type(None))
        if typing.get_origin(kind) is Literal:
            choices, kind = tuple(typing.get_args(kind)), str
        elif typing.get_origin(kind) is tuple:
            many, kind = True, typing.get_args(kind)[0]
        out.append(
            ConfigOption(
                name=f.name,
                kind=kind,
                default=f.default,
                help=f.metadata["help"],
                option=f.metadata.get("option", f.name).replace("_", "-"),
                choices=choices,
                many=many,
                optional=optional,
                min=f.metadata.get("min"),
                max=f.metadata.get("max"),
            )
        )
    return out
