"""The Gaia DR3 RVS wavelength grid and the air-to-vacuum conversion, once for the library.

RVS mean spectra sit on 2401 pixels, 846.00 … 870.00 nm in 0.01 nm steps, at vacuum
wavelengths; line lists (and the paper) give air wavelengths.
"""

from __future__ import annotations

import numpy as np

from .labels import N_PIXELS

#: The RVS mean-spectrum grid, nm (vacuum): 846.00 … 870.00 in 0.01 nm steps
WAVELENGTH_NM: np.ndarray = np.round(846.0 + 0.01 * np.arange(N_PIXELS), 2)
WAVELENGTH_NM.flags.writeable = False  # shared by every module: nobody may change it in place
#: Continuum windows of Sect. 2.1, Å (inclusive bounds)
CONTINUUM_WINDOWS_A: tuple[tuple[float, float], ...] = (
    (8475.0, 8495.0),
    (8561.0, 8582.0),
    (8627.0, 8648.0),
)


def air_to_vacuum(wl_air_a: np.ndarray | float) -> np.ndarray:
    """Edlén (1966) refractive index of air; Å in, Å out."""
    wl = np.asarray(wl_air_a, dtype=np.float64)
    s2 = (1e4 / wl) ** 2
    n = 1.0 + 8.34213e-5 + 2.406030e-2 / (130.0 - s2) + 1.5997e-4 / (38.9 - s2)
    return wl * n


def air_to_vacuum_nm(wl_air_nm: float) -> float:
    """One air wavelength in nm, at vacuum (the unit the star page's lines are listed in)."""
    return float(air_to_vacuum(wl_air_nm * 10.0)) / 10.0
