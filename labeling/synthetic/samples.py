"""A synthetic sky as the CNN sees it: training and observed StarSets, with the truth.

Goes through the same selection as real data (labeling.selection, Sect. 2), in memory, for
tests, benchmarks and the science checks of docs/science.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..dataset import ArraySpectra, StarSet
from ..labels import LABELS
from ..selection import APOGEE_LABEL_COLUMNS, Selection, select
from .config import SkyConfig
from .sky import block_rng, generate_chunk


@dataclass
class SyntheticSamples:
    training: StarSet  # labels: the APOGEE-like labels (what the CNN is trained on)
    observed: StarSet  # labels: the truth (never shown to the CNN)
    training_truth: np.ndarray  # (N, 5) true labels of the training stars
    observed_population: np.ndarray  # (M,) population names
    #: (M,) observed stars that have an APOGEE counterpart but are not in the training sample
    #: (they failed a training or APOGEE quality cut): the observed sample of Fig. 16
    observed_in_apogee: np.ndarray
    #: (M, 5) the APOGEE-like labels of observed stars whose labels pass the APOGEE cuts (they
    #: failed a training-only cut), NaN for the others: what Fig. 16 compares with
    observed_reference: np.ndarray
    selection: Selection


def synthetic_samples(n_stars: int, seed: int, config: SkyConfig = SkyConfig()) -> SyntheticSamples:  # noqa: B008
    """Generate ``n_stars`` in memory, select them like real data and build the StarSets."""
    block = config.block_size
    chunks = [
        generate_chunk(block_rng(seed, b), min(block, n_stars - b * block), b * block, config)
        for b in range((n_stars + block - 1) // block)
    ]

    def cat(get) -> dict[str, np.ndarray]:
        parts = [get(c) for c in chunks]
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    rvs = {"source_id": np.concatenate([c.rvs["source_id"] for c in chunks])}
    rvs["flux"] = _take_flux(chunks)
    gaia, xp = cat(lambda c: c.gaia_source), cat(lambda c: c.xp)
    truth, apogee = cat(lambda c: c.truth), cat(lambda c: c.apogee)
    ap = cat(lambda c: c.astrophysical_parameters)
    chunks.clear()  # the spectra are now held by `rvs` and, below, by the StarSets only
    gaia = {
        **gaia,
        "classlabel_espels": ap["classlabel_espels"],
        "has_rvs": np.isin(gaia["source_id"], rvs["source_id"]),
    }
    selection = select(gaia, apogee)

    def star_set(
        ids: np.ndarray, labels: np.ndarray | None, label_errors: np.ndarray | None = None
    ) -> StarSet:
        g = np.searchsorted(gaia["source_id"], ids, sorter=np.argsort(gaia["source_id"]))
        g = np.argsort(gaia["source_id"])[g]
        r = np.argsort(rvs["source_id"])[
            np.searchsorted(rvs["source_id"], ids, sorter=np.argsort(rvs["source_id"]))
        ]
        x = np.argsort(xp["source_id"])[
            np.searchsorted(xp["source_id"], ids, sorter=np.argsort(xp["source_id"]))
        ]
        phot = np.stack(
            [
                gaia[k][g]
                for k in ("phot_g_mean_mag", "phot_bp_mean_mag", "phot_rp_mean_mag", "parallax")
            ],
            axis=1,
        )
        coeffs = np.concatenate([xp["bp_coefficients"][x], xp["rp_coefficients"][x]], axis=1)
        return StarSet(
            source_id=ids,
            spectra=ArraySpectra(rvs["flux"][r]),
            phot=phot,
            xp=coeffs,
            snr=gaia["rvs_spec_sig_to_noise"][g],
            labels=labels,
            label_errors=label_errors,
        )

    t_idx = np.argsort(truth["source_id"])

    def true_labels(ids):
        rows = t_idx[np.searchsorted(truth["source_id"], ids, sorter=t_idx)]
        return np.stack([truth[k][rows] for k in LABELS], axis=1), rows

    train_truth, _ = true_labels(selection.training_ids)
    obs_truth, obs_rows = true_labels(selection.observed_ids)
    return SyntheticSamples(
        training=star_set(selection.training_ids, selection.labels, selection.label_errors),
        observed=star_set(selection.observed_ids, obs_truth),
        training_truth=train_truth,
        observed_population=truth["population"][obs_rows],
        observed_in_apogee=np.isin(selection.observed_ids, apogee["GAIAEDR3_SOURCE_ID"]),
        observed_reference=_reference_labels(apogee, selection.observed_apogee_rows),
        selection=selection,
    )


def _take_flux(chunks: list) -> np.ndarray:
    """The chunks' RVS fluxes in one array, each chunk's released as it is copied.

    The spectra are most of a sky's memory (9.6 KB a star); concatenating them while the chunks
    still hold theirs, flux errors included, needed four times that.
    """
    n = sum(len(c.rvs["source_id"]) for c in chunks)
    flux = np.empty((n, chunks[0].rvs["flux"].shape[1]), dtype=chunks[0].rvs["flux"].dtype)
    start = 0
    for c in chunks:
        part = c.rvs.pop("flux")
        c.rvs.pop("flux_error", None)
        flux[start : start + len(part)] = part
        start += len(part)
    return flux


def _reference_labels(apogee: dict[str, np.ndarray], rows: np.ndarray) -> np.ndarray:
    """(len(rows), 5) allStar labels at ``rows``, NaN where the row is −1."""
    out = np.full((rows.size, len(LABELS)), np.nan)
    has = rows >= 0
    for j, column in enumerate(APOGEE_LABEL_COLUMNS):
        out[has, j] = np.asarray(apogee[column], dtype=np.float64)[rows[has]]
    return out
