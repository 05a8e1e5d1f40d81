"""Every knob of the synthetic sky, as frozen dataclasses (see docs/synthetic-sky.md)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from ..augment import RVS_NATIVE_PIXEL_PX

#: Populations in the order their fractions are listed in :class:`PopulationMix`.
POPULATIONS: tuple[str, ...] = (
    "thin_disc_giant",
    "thick_disc_giant",
    "halo_giant",
    "thin_disc_dwarf",
    "thick_disc_dwarf",
    "halo_dwarf",
    "ob_star",
    "m_giant",
    "nearby_cool_dwarf",
)

#: Populations that APOGEE's selection never reaches in this world (paper Sect. 5.3).
OUTSIDE_TRAINING: tuple[str, ...] = ("ob_star", "m_giant", "nearby_cool_dwarf")

#: Anomaly categories (one at most per star, '' for none), each tripping one Gaia cut of Sect. 2.
ANOMALIES: tuple[str, ...] = (
    "bad_astrometry",
    "variable",
    "binary",
    "emission",
    "galaxy_candidate",
    "qso_candidate",
)


@dataclass(frozen=True)
class PopulationMix:
    """Share of each population in the RVS sample (normalised when used).

    Giants and FGK dwarfs dominate as in the paper's training set (Sect. 2.6, Fig. 4); OB stars,
    M giants and nearby cool dwarfs are the populations outside it (Sect. 5.3).
    """

    thin_disc_giant: float = 0.40
    thick_disc_giant: float = 0.10
    halo_giant: float = 0.025
    thin_disc_dwarf: float = 0.30
    thick_disc_dwarf: float = 0.06
    halo_dwarf: float = 0.01
    ob_star: float = 0.04
    m_giant: float = 0.035
    nearby_cool_dwarf: float = 0.03
    #: share of red-clump stars among disc giants
    red_clump_share: float = 0.35

    def fractions(self) -> tuple[float, ...]:
        values = tuple(getattr(self, name) for name in POPULATIONS)
        total = sum(values)
        return tuple(v / total for v in values)


@dataclass(frozen=True)
class AnomalyRates:
    """Probability that a star carries each anomaly (Gaia cuts of Sect. 2.1-2.3 and 2.5)."""

    bad_astrometry: float = 0.015
    variable: float = 0.010
    #: M giants are mostly long-period variables
    variable_m_giant: float = 0.25
    binary: float = 0.020
    emission: float = 0.002
    #: Be stars: emission is common among OB stars
    emission_ob: float = 0.12
    galaxy_candidate: float = 0.001
    qso_candidate: float = 0.001


@dataclass(frozen=True)
class SnrModel:
    """S/N of the mean RVS spectrum (rvs_spec_sig_to_noise) like the paper's Fig. 1 (Sect. 2.1).

    ``low_share`` of the stars lie log-uniformly in [snr_min, snr_low_max]; the rest follow a
    density ∝ SNR^-tail_slope per dex up to snr_max. G_RVS follows from S/N:
    G_RVS = grvs_at_snr_min − grvs_per_dex · log10(SNR / snr_min) + N(0, grvs_scatter).

    The scatter stands for the number of RVS transits, which varies across the sky with the
    scanning law (S/N ∝ √N_transits at fixed magnitude): 0.6 mag is a factor 1.5 in S/N at 1σ.
    With it, as in Sect. 2.5 and Fig. 3, the S/N ≥ 30 training cut still reaches the faint end:
    the training sample spans G up to ≈ 14.3 (paper: 14.2) and ≈ 98 % of the observed sample
    lies inside its G range (paper: 98 %); with 0.25 mag only 93 % did.
    """

    snr_min: float = 15.0
    snr_low_max: float = 25.0
    low_share: float = 1.0 / 3.0
    snr_max: float = 2000.0
    tail_slope: float = 0.75
    grvs_at_snr_min: float = 13.0
    grvs_per_dex: float = 3.3
    grvs_scatter: float = 0.6
    #: very bright stars (G down to ~3) whose S/N saturates
    bright_share: float = 0.004
    bright_grvs: tuple[float, float] = (2.5, 6.5)


@dataclass(frozen=True)
class SpectrumModel:
    """RVS spectrum synthesis knobs (Sect. 2.1, 3.5)."""

    resolving_power: float = 11_500.0
    #: residual radial-velocity shift left in the normalised spectra, km/s (Appendix C)
    rv_residual_sigma: float = 1.5
    #: log g sensitivity of the spectrum for cool stars relative to warm ones (Appendix B)
    cool_logg_sensitivity: float = 0.2
    #: spectra with NaN pixels, and the share of those with a run at an edge (rest: a gap)
    nan_share: float = 0.03
    nan_edge_share: float = 0.5
    #: noise is this much larger at the two ends of the RVS band-pass filter
    edge_noise_boost: float = 0.6
    #: noise correlated over this many 0.01 nm pixels, as in real mean spectra
    #: (labeling.augment.RVS_NATIVE_PIXEL_PX); None: white noise, as before 2026-11-30
    noise_native_pixel_px: float | None = RVS_NATIVE_PIXEL_PX


@dataclass(frozen=True)
class ChemistryModel:
    """Star-to-star abundance scatter that the five labels do not describe (Sect. 2.4).

    The labels are APOGEE's: its [α/M] is fitted mostly on O and Mg lines, which the RVS band
    does not have; the RVS α lines are Ca, Si, Ti and S (Sect. 2.4, 3.5.1). In real stars each
    element scatters about the two-process pattern of [Fe/H] and [Mg/Fe] by a few hundredths
    of a dex, and [C/N] in giants by about a tenth with mass and mixing. Each star draws
    [X/α] for Ca, Si, Ti, S, [X/M] for Cr, V (both ``element_scatter_dex``) and an N/CN offset
    (``cn_scatter_dex``); its RVS lines follow them. XP (Mg b) follows the labels. The
    offsets come from a stream of their own, so every other draw of the sky is as it was
    without them; both zero gives back exactly the skies of the first fifteen measurements in
    docs/science.md.
    """

    element_scatter_dex: float = 0.03
    cn_scatter_dex: float = 0.10


@dataclass(frozen=True)
class XpModel:
    """XP continuous spectrum knobs (Sect. 2.3)."""

    #: scale of the hydrogen lines' equivalent widths (0: none, the Teff–A_V degeneracy of a
    #: line-free continuum; docs/synthetic-sky.md)
    hydrogen_line_strength: float = 1.0
    #: Teff (K) at which XP's metal lines (blanketing in the blue, Mg b, Ca II) have faded
    #: out, linearly from 3 500 K; 6 500 K before, which left F stars no XP metallicity
    metal_lines_fade_k: float = 8500.0


@dataclass(frozen=True)
class ExtinctionModel:
    """Dust in a plane-parallel exponential layer; A_V grows with distance (Sect. 2.2)."""

    av_per_kpc: float = 0.8
    scale_height_pc: float = 120.0
    patchiness_dex: float = 0.25
    av_max: float = 8.0
    # A_X / A_V for the Gaia bands (intermediate colours)
    ag_per_av: float = 0.789
    abp_per_av: float = 1.002
    arp_per_av: float = 0.589


@dataclass(frozen=True)
class ApogeeModel:
    """APOGEE DR17-like subset and its quality defects (Sect. 2.4)."""

    #: share of the RVS sample observed by APOGEE (paper: 207 953 / 999 670 ≈ 0.21)
    fraction: float = 0.21
    #: relative selection weight per population (giant-dominated, few metal-poor stars)
    weight_thin_disc_giant: float = 1.0
    weight_thick_disc_giant: float = 0.8
    weight_halo_giant: float = 0.35
    weight_thin_disc_dwarf: float = 0.45
    weight_thick_disc_dwarf: float = 0.35
    weight_halo_dwarf: float = 0.15
    #: per-row probability of each defect that fails one of the paper's cuts
    star_warn: float = 0.03
    star_bad: float = 0.015
    high_chi2: float = 0.02
    fe_h_flag: float = 0.02
    bad_teff_err: float = 0.02
    bad_logg_err: float = 0.02
    bad_m_h_err: float = 0.02
    bad_alpha_m_err: float = 0.015
    #: SNR is log-normal; a few per cent fall at or below the paper's 70
    snr_median: float = 160.0
    snr_sigma_dex: float = 0.22
    #: duplicate rows (same GAIAEDR3_SOURCE_ID, other TELESCOPE/FIELD), per APOGEE star
    duplicate_share: float = 0.015
    #: extra rows without Gaia id (GAIAEDR3_SOURCE_ID = 0), per APOGEE star
    no_gaia_id_share: float = 0.006
    #: extra rows whose Gaia id is not in the RVS sample (too faint for RVS), per APOGEE star
    unmatched_share: float = 0.03

    def weight(self, population: str) -> float:
        return getattr(self, f"weight_{population}", 0.0)


@dataclass(frozen=True)
class SkyConfig:
    """Everything that shapes the synthetic Gaia DR3 RVS sky; the defaults mimic the paper."""

    populations: PopulationMix = field(default_factory=PopulationMix)
    anomalies: AnomalyRates = field(default_factory=AnomalyRates)
    snr: SnrModel = field(default_factory=SnrModel)
    spectrum: SpectrumModel = field(default_factory=SpectrumModel)
    chemistry: ChemistryModel = field(default_factory=ChemistryModel)
    xp: XpModel = field(default_factory=XpModel)
    extinction: ExtinctionModel = field(default_factory=ExtinctionModel)
    apogee: ApogeeModel = field(default_factory=ApogeeModel)
    #: share of RVS stars without XP continuous coefficients
    no_xp_share: float = 0.01
    #: stars per independently seeded block; output for a seed depends on this, not on chunk_size
    block_size: int = 1000
    #: stars per write (a multiple of block_size is used); bounds memory
    chunk_size: int = 5000
    #: write the RVS file from a second process for big skies (the text formatting dominates)
    parallel_rvs_writer: bool = True


def describe(config: SkyConfig) -> dict[str, object]:
    """A flat dict of every knob (for provenance in file headers and logs)."""
    out: dict[str, object] = {}

    def walk(obj: object, prefix: str) -> None:
        for f in fields(obj):  # type: ignore[arg-type]
            value = getattr(obj, f.name)
            if hasattr(value, "__dataclass_fields__"):
                walk(value, f"{prefix}{f.name}.")
            else:
                out[f"{prefix}{f.name}"] = value

    walk(config, "")
    return out
