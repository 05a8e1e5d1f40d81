"""A realistic synthetic Gaia DR3 RVS sky whose truth is known (see docs/synthetic-sky.md).

Populations and labels (paper Sect. 2.4, 2.6, 7), photometry and parallaxes (Sect. 2.2), RVS
spectra (Sect. 2.1, 3.5, 5.3, App. B), XP coefficients (Sect. 2.3) and an APOGEE DR17-like
subset (Sect. 2.4) of Guiglion et al. 2024, A&A 682, A9; written through labeling.io.writers.
"""

from ..wavelength import CONTINUUM_WINDOWS_A, WAVELENGTH_NM
from .config import (
    ANOMALIES,
    OUTSIDE_TRAINING,
    POPULATIONS,
    AnomalyRates,
    ApogeeModel,
    ChemistryModel,
    ExtinctionModel,
    PopulationMix,
    SkyConfig,
    SnrModel,
    SpectrumModel,
    XpModel,
)
from .sky import SkyFiles, SyntheticChunk, block_rng, generate_chunk, write_sky

__all__ = [
    "ANOMALIES",
    "CONTINUUM_WINDOWS_A",
    "OUTSIDE_TRAINING",
    "POPULATIONS",
    "WAVELENGTH_NM",
    "AnomalyRates",
    "ApogeeModel",
    "ChemistryModel",
    "ExtinctionModel",
    "PopulationMix",
    "SkyConfig",
    "SkyFiles",
    "SnrModel",
    "SpectrumModel",
    "SyntheticChunk",
    "block_rng",
    "generate_chunk",
    "XpModel",
    "write_sky",
]
