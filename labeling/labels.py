"""The five labels the CNN derives, declared once, in the order of its outputs and of
flag_boundary (Sect. 5).

Guiglion et al. 2024, Sect. 3.1: Teff, log(g), [M/H], [α/M], [Fe/H], trained on APOGEE DR17.
Everything that names a label — the catalogue's model fields, the published columns and
TAP_SCHEMA, the search form, the star page, the plots and the validation report — derives from
:data:`LABEL_SPECS`. A sixth label is one more :class:`Label` (plus a migration).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

#: How labels and their errors are stored (database columns, label writers, downloads): float32,
#: as the network computes them and as the Gaia archive publishes its astrophysical parameters
STORAGE_DTYPE: np.dtype = np.dtype("float32")


@dataclass(frozen=True)
class Label:
    """One label: how machines (VOUnit, UCD, APOGEE column) and people (display) name it."""

    name: str  # column name, e.g. "teff"; also e_<name>, sigma_<name>, apogee_<name>
    display: str  # as people read it: "Teff", "[α/M]"
    symbol: str  # in ASCII, for column descriptions (FITS headers are ASCII): "[alpha/M]"
    vounit: str  # IVOA VOUnit, what TAP_SCHEMA and every file header say
    ucd: str  # UCD1+ of the value; its errors are "stat.error;" + this
    apogee_column: str  # the APOGEE DR17 allStar column trained on (its error: + "_ERR")
    quantity: str  # what it is, in words, for column descriptions: "effective temperature"
    decimals: int  # digits after the point where people read a value (Teff 1 K, dex 0.01)
    #: the bounds a search may ask for: a value outside is a typo (e.g. Teff in dex)
    plausible: tuple[float, float]

    @property
    def unit(self) -> str:
        """The unit as people read it, derived from :attr:`vounit` ("log(cm s⁻²)", "dex")."""
        return readable_unit(self.vounit)

    @property
    def axis(self) -> str:
        """A plot axis of this label: "log g [log(cm s⁻²)]"."""
        return f"{self.display} [{self.unit}]"

    @property
    def apogee_error_column(self) -> str:
        return f"{self.apogee_column}_ERR"

    @property
    def error_ucd(self) -> str:
        return f"stat.error;{self.ucd}"

    def format(self, value: float | None) -> str:
        """A value as people read it: to :attr:`decimals` digits after the point."""
        if value is None or not math.isfinite(value):
            return "–"
        return f"{value:.{self.decimals}f}"


LABEL_SPECS: tuple[Label, ...] = (
    Label(
        name="teff", display="Teff", symbol="Teff", vounit="K",
        ucd="phys.temperature.effective", apogee_column="TEFF",
        quantity="effective temperature", decimals=0, plausible=(2000.0, 50000.0),
    ),
    Label(
        name="logg", display="log g", symbol="log g", vounit="log(cm.s**-2)",
        ucd="phys.gravity", apogee_column="LOGG",
        quantity="surface gravity (log g in cgs)", decimals=2, plausible=(-1.0, 6.0),
    ),
    Label(
        name="m_h", display="[M/H]", symbol="[M/H]", vounit="dex",
        ucd="phys.abund.Z", apogee_column="M_H",
        quantity="overall metallicity [M/H]", decimals=2, plausible=(-5.0, 2.0),
    ),
    Label(
        name="alpha_m", display="[α/M]", symbol="[alpha/M]", vounit="dex",
        ucd="phys.abund", apogee_column="ALPHA_M",
        quantity="alpha-element abundance [alpha/M]", decimals=2, plausible=(-1.0, 1.5),
    ),
    Label(
        name="fe_h", display="[Fe/H]", symbol="[Fe/H]", vounit="dex",
        ucd="phys.abund.Fe", apogee_column="FE_H",
        quantity="iron abundance [Fe/H]", decimals=2, plausible=(-5.0, 2.0),
    ),
)  # fmt: skip

LABELS: tuple[str, ...] = tuple(label.name for label in LABEL_SPECS)
BY_NAME: dict[str, Label] = {label.name: label for label in LABEL_SPECS}
#: VOUnit of each label (what machines read)
UNITS: dict[str, str] = {label.name: label.vounit for label in LABEL_SPECS}
DISPLAY: dict[str, str] = {label.name: label.display for label in LABEL_SPECS}
# The APOGEE DR17 allStar columns giving each label and its error
APOGEE_COLUMNS: dict[str, str] = {label.name: label.apogee_column for label in LABEL_SPECS}
# Photometry and astrometry fed to the dense branch (Sect. 3.1), apparent values as in the paper
PHOT_COLUMNS: tuple[str, ...] = (
    "phot_g_mean_mag",
    "phot_bp_mean_mag",
    "phot_rp_mean_mag",
    "parallax",
)
N_PIXELS = 2401  # RVS: 846-870 nm, 0.01 nm pixels
N_XP = 110  # 55 BP + 55 RP coefficients

_FUNCTION = re.compile(r"^(log|ln|exp|sqrt)\((.*)\)$")


def readable_unit(vounit: str) -> str:
    """A VOUnit string as people read it: ``log(cm.s**-2)`` → ``log(cm s⁻²)``, ``km.s**-1`` →
    ``km s⁻¹``; a unit astropy's VOUnit parser does not know (``dex``) stays as written."""
    from astropy import units  # here: most users of the labels never print a unit

    m = _FUNCTION.match(vounit)
    if m:  # astropy parses no VOUnit functions
        return f"{m.group(1)}({readable_unit(m.group(2))})"
    try:
        return units.Unit(vounit, format="vounit").to_string("unicode")
    except ValueError:
        return vounit


def format_label(name: str, value: float | None) -> str:
    """A label's value as people read it (Teff to 1 K, the others to 0.01 dex)."""
    return BY_NAME[name].format(value)


def format_error(value: float | None, digits: int = 2) -> str:
    """An error as people read it: two significant digits (``52.337`` → ``52``, ``0.0734`` →
    ``0.073``), never in exponent notation."""
    if value is None or not math.isfinite(value):
        return "–"
    if value == 0:
        return "0"
    rounded = round(value, digits - 1 - math.floor(math.log10(abs(value))))
    # rounding may carry into one more digit (0.0995 → 0.10): two significant digits still
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(rounded))))
    return f"{rounded:.{decimals}f}"
