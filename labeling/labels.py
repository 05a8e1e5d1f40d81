"""The five labels the CNN derives, in the order of its outputs and of flag_boundary (Sect. 5).

Guiglion et al. 2024, Sect. 3.1: Teff, log(g), [M/H], [α/M], [Fe/H], trained on APOGEE DR17.
"""

LABELS: tuple[str, ...] = ("teff", "logg", "m_h", "alpha_m", "fe_h")
UNITS = {"teff": "K", "logg": "log(cm.s**-2)", "m_h": "dex", "alpha_m": "dex", "fe_h": "dex"}
# The APOGEE DR17 allStar columns giving each label and its error
APOGEE_COLUMNS = {
    "teff": "TEFF",
    "logg": "LOGG",
    "m_h": "M_H",
    "alpha_m": "ALPHA_M",
    "fe_h": "FE_H",
}
DISPLAY = {"teff": "Teff", "logg": "log g", "m_h": "[M/H]", "alpha_m": "[α/M]", "fe_h": "[Fe/H]"}
# Photometry and astrometry fed to the dense branch (Sect. 3.1), apparent values as in the paper
PHOT_COLUMNS: tuple[str, ...] = (
    "phot_g_mean_mag",
    "phot_bp_mean_mag",
    "phot_rp_mean_mag",
    "parallax",
)
N_PIXELS = 2401  # RVS: 846-870 nm, 0.01 nm pixels
N_XP = 110  # 55 BP + 55 RP coefficients
