"""What a validation report is computed from: the samples, S/N bins, flag digits and
:class:`ValidationData` (Guiglion et al. 2024, Sect. 4).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..flags import FLAG_DIGITS
from ..labels import BY_NAME, LABEL_SPECS, LABELS, format_error

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
#: How tables and plots head each flag_boundary digit (labeling.flags.FLAG_DIGITS)
FLAG_DISPLAY: dict[str, str] = {d.key: d.display for d in FLAG_DIGITS}
#: Populations outside the training set in the synthetic sky (labeling.synthetic.config
#: OUTSIDE_TRAINING; Sect. 5.3: OB stars, M giants, nearby cool dwarfs).
OUT_OF_DISTRIBUTION: tuple[str, ...] = ("ob_star", "m_giant", "nearby_cool_dwarf")
MAD_TO_SIGMA = 1.4826
#: units as people read them (the declaration's VOUnit, readable: log g in log(cm s⁻²))
UNITS: dict[str, str] = {x.name: x.unit for x in LABEL_SPECS}
UNITS_TEXT = "; ".join(f"{x.display} in {x.unit}" for x in LABEL_SPECS) + "."

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


def format_value(label: str, v: float | None) -> str:
    """A label (or a bias of one) as the report prints it: Teff to 1 K, the others to 0.01."""
    return BY_NAME[label].format(v)


def format_spread(v: float | None) -> str:
    """A standard deviation or an uncertainty as the report prints it: two significant
    digits."""
    return format_error(v)


def format_share(v: float | None) -> str:
    """A share as the report prints it, in per cent."""
    return "–" if v is None else f"{100 * v:.1f} %"
