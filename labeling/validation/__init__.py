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

Modules: ``data`` (:class:`ValidationData`, the samples, S/N bins and flag digits), ``figures``
(the numbers), ``plots`` (the PNGs), ``report`` (report.json and index.html).
"""

from ..flags import FLAG_ORDER
from .data import (
    OUT_OF_DISTRIBUTION,
    SAMPLES,
    SNR_BINS,
    ValidationData,
)
from .figures import compare_versions, compute_figures, parse_flags, residual_stats, snr_bin_masks
from .plots import plot_label_differences
from .report import write_report

__all__ = [
    "FLAG_ORDER",
    "OUT_OF_DISTRIBUTION",
    "SAMPLES",
    "SNR_BINS",
    "ValidationData",
    "compare_versions",
    "compute_figures",
    "parse_flags",
    "plot_label_differences",
    "residual_stats",
    "snr_bin_masks",
    "write_report",
]
