"""Gaia DR3 data-model metadata for the bulk ECSV writers.

Datatype, unit, UCD and description of the columns of each product, as in the Gaia
DR3 data model (documentation chapter 20: gaia_source 20.1.1,
astrophysical_parameters 20.3.1, rvs_mean_spectrum 20.12.1, xp_continuous_mean_spectrum
20.12.3) and as the archive writes them in its ECSV headers.  An array column's
datatype is written ``float32[2401]`` here: in the file it becomes ``datatype: string``
with ``subtype: 'float32[null]'``, as in the real bulk files.

Table rows: ``name | datatype | unit | ucd | description``; an indented line continues
the description.
"""

from __future__ import annotations


def _parse(text: str) -> dict[str, tuple]:
    """{name: (datatype, unit, description, ucd[, array length])}."""
    rows: list[list[str]] = []
    for line in text.strip("\n").splitlines():
        if line.startswith(" "):
            rows[-1][4] += " " + line.strip()
        else:
            rows.append([part.strip() for part in line.split("|", 4)])
    schema: dict[str, tuple] = {}
    for name, dtype, unit, ucd, description in rows:
        spec: tuple = (dtype.split("[")[0], unit or None, description or None, ucd or None)
        if "[" in dtype:
            spec += (int(dtype.split("[")[1].rstrip("]")),)
        schema[name] = spec
    return schema


GAIA_SOURCE_SCHEMA = _parse("""
solution_id | int64 |  | meta.version | Solution Identifier
designation | string |  | meta.id;meta.main | Unique source designation (unique across all Data
    Releases)
source_id | int64 |  | meta.id;meta.main | Unique source identifier (unique within a particular
    Data Release)
random_index | int64 |  | meta.code | Random index for use when selecting subsets
ref_epoch | float64 | yr | meta.ref;time.epoch | Reference epoch
ra | float64 | deg | pos.eq.ra;meta.main | Right ascension
ra_error | float32 | mas | stat.error;pos.eq.ra | Standard error of right ascension
dec | float64 | deg | pos.eq.dec;meta.main | Declination
dec_error | float32 | mas | stat.error;pos.eq.dec | Standard error of declination
parallax | float64 | mas | pos.parallax.trig | Parallax
parallax_error | float32 | mas | stat.error;pos.parallax.trig | Standard error of parallax
parallax_over_error | float32 |  | stat.snr;pos.parallax.trig | Parallax divided by its standard
    error
pm | float32 | mas.yr**-1 | pos.pm;pos.eq | Total proper motion
pmra | float64 | mas.yr**-1 | pos.pm;pos.eq.ra | Proper motion in right ascension direction
pmra_error | float32 | mas.yr**-1 | stat.error;pos.pm;pos.eq.ra | Standard error of proper
    motion in right ascension direction
pmdec | float64 | mas.yr**-1 | pos.pm;pos.eq.dec | Proper motion in declination direction
pmdec_error | float32 | mas.yr**-1 | stat.error;pos.pm;pos.eq.dec | Standard error of proper
    motion in declination direction
ruwe | float32 |  | stat.error | Renormalised unit weight error
phot_g_mean_flux | float64 | electron.s**-1 | phot.flux;em.opt | G-band mean flux
phot_g_mean_flux_over_error | float32 |  | stat.snr;phot.flux;em.opt | G-band mean flux divided
    by its error
phot_g_mean_mag | float32 | mag | phot.mag;em.opt | G-band mean magnitude
phot_bp_mean_flux | float64 | electron.s**-1 | phot.flux;em.opt.B | Integrated BP mean flux
phot_bp_mean_flux_over_error | float32 |  | stat.snr;phot.flux;em.opt.B | Integrated BP mean
    flux divided by its error
phot_bp_mean_mag | float32 | mag | phot.mag;em.opt.B | Integrated BP mean magnitude
phot_rp_mean_flux | float64 | electron.s**-1 | phot.flux;em.opt.R | Integrated RP mean flux
phot_rp_mean_flux_over_error | float32 |  | stat.snr;phot.flux;em.opt.R | Integrated RP mean
    flux divided by its error
phot_rp_mean_mag | float32 | mag | phot.mag;em.opt.R | Integrated RP mean magnitude
bp_rp | float32 | mag | phot.color;em.opt.B;em.opt.R | BP - RP colour
radial_velocity | float32 | km.s**-1 | spect.dopplerVeloc.opt;em.opt.I | Radial velocity
radial_velocity_error | float32 | km.s**-1 | stat.error;spect.dopplerVeloc.opt;em.opt.I | Radial
    velocity error
rv_nb_transits | int16 |  | meta.number | Number of transits used to compute the radial velocity
rvs_spec_sig_to_noise | float32 |  | stat.snr | Signal to noise ratio in the mean RVS spectrum
phot_variable_flag | string |  | meta.code;src.var | Photometric variability flag
l | float64 | deg | pos.galactic.lon | Galactic longitude
b | float64 | deg | pos.galactic.lat | Galactic latitude
in_qso_candidates | bool |  | meta.code.status | Flag indicating the availability of additional
    information in the QSO candidates table
in_galaxy_candidates | bool |  | meta.code.status | Flag indicating the availability of
    additional information in the galaxy candidates table
non_single_star | int16 |  | meta.code.status | Flag indicating the availability of additional
    information in the various Non-Single Star tables
has_xp_continuous | bool |  | meta.code.status | Flag indicating the availability of mean BP/RP
    spectrum in continuous representation for this source
has_xp_sampled | bool |  | meta.code.status | Flag indicating the availability of mean BP/RP
    spectrum in sampled form for this source
has_rvs | bool |  | meta.code.status | Flag indicating the availability of mean RVS spectrum for
    this source
teff_gspphot | float32 | K | phys.temperature.effective | Effective temperature from GSP-Phot
    Aeneas best library using BP/RP spectra
logg_gspphot | float32 | log(cm.s**-2) | phys.gravity | Surface gravity from GSP-Phot Aeneas
    best library using BP/RP spectra
mh_gspphot | float32 | dex | phys.abund.Z | Iron abundance from GSP-Phot Aeneas best library
    using BP/RP spectra
""")

ASTROPHYSICAL_PARAMETERS_SCHEMA = _parse("""
solution_id | int64 |  | meta.version | Solution Identifier
source_id | int64 |  | meta.id;meta.main | Unique source identifier (unique within a particular
    Data Release)
classprob_dsc_combmod_star | float32 |  | stat.probability | Probability from DSC-Combmod of
    being a single star (but not a white dwarf)
teff_gspspec | float32 | K | phys.temperature.effective | Effective temperature from GSP-Spec
    MatisseGauguin using RVS spectra and Monte Carlo realisations
logg_gspspec | float32 | log(cm.s**-2) | phys.gravity | Logarithm of the stellar surface gravity
    from GSP-Spec MatisseGauguin using RVS spectra and Monte Carlo realisations
mh_gspspec | float32 | dex | phys.abund.Z | Global metallicity [M/H] from GSP-Spec
    MatisseGauguin using RVS spectra and Monte Carlo realisations
classlabel_espels | string |  | src.class | Class label from ESP-ELS
""")

RVS_MEAN_SPECTRUM_SCHEMA = _parse("""
source_id | int64 |  | meta.id;meta.main | Unique source identifier (unique within a particular
    Data Release)
solution_id | int64 |  | meta.version | Solution Identifier
ra | float64 | deg | pos.eq.ra;meta.main | Right Ascension
dec | float64 | deg | pos.eq.dec;meta.main | Declination
flux | float32[2401] |  | phot.flux;em.opt.I | Normalised mean flux
flux_error | float32[2401] |  | stat.error;phot.flux;em.opt.I | Uncertainty on the normalised
    mean flux
combined_transits | int16 |  | meta.number | Number of transits combined
combined_ccds | int16 |  | meta.number | Number of CCD spectra combined
deblended_ccds | int16 |  | meta.number | Number of deblended CCD spectra combined
""")

XP_CONTINUOUS_SCHEMA = _parse("""
source_id | int64 |  | meta.id;meta.main | Unique source identifier (unique within a particular
    Data Release)
solution_id | int64 |  | meta.version | Solution Identifier
bp_basis_function_id | int16 |  | meta.id | Identifier defining the set of basis functions for
    the BP spectrum representation
bp_degrees_of_freedom | int16 |  | stat.fit.dof | Degrees of freedom for the BP spectrum
    representation
bp_n_parameters | int16 |  | stat.fit.param | Number of parameters for the BP spectrum
    representation
bp_n_measurements | int16 |  | meta.number | Number of measurements used for the BP spectrum
    generation
bp_n_rejected_measurements | int16 |  | meta.number | Number of rejected measurements in the BP
    spectrum generation
bp_standard_deviation | float32 |  | stat.stdev | Standard deviation for the BP spectrum
    representation
bp_chi_squared | float32 |  | stat.fit.chi2 | Chi squared for the BP spectrum representation
bp_coefficients | float64[55] |  | stat.fit.param | Basis function coefficients for the BP
    spectrum representation
bp_coefficient_errors | float32[55] |  | stat.error | Basis function coefficient errors for the
    BP spectrum representation
bp_coefficient_correlations | float32[1485] |  | stat.correlation | Correlation matrix for BP
    coefficients
bp_n_relevant_bases | int16 |  | meta.number | Number of bases that are relevant for the
    representation of this mean BP spectrum
bp_relative_shrinking | float32 |  | stat.fit.param | Measure of the relative shrinking of the
    coefficient vector when truncation is applied for the mean BP spectrum
rp_basis_function_id | int16 |  | meta.id | Identifier defining the set of basis functions for
    the RP spectrum representation
rp_degrees_of_freedom | int16 |  | stat.fit.dof | Degrees of freedom for the RP spectrum
    representation
rp_n_parameters | int16 |  | stat.fit.param | Number of parameters for the RP spectrum
    representation
rp_n_measurements | int16 |  | meta.number | Number of measurements used for the RP spectrum
    generation
rp_n_rejected_measurements | int16 |  | meta.number | Number of rejected measurements in the RP
    spectrum generation
rp_standard_deviation | float32 |  | stat.stdev | Standard deviation for the RP spectrum
    representation
rp_chi_squared | float32 |  | stat.fit.chi2 | Chi squared for the RP spectrum representation
rp_coefficients | float64[55] |  | stat.fit.param | Basis function coefficients for the RP
    spectrum representation
rp_coefficient_errors | float32[55] |  | stat.error | Basis function coefficient errors for the
    RP spectrum representation
rp_coefficient_correlations | float32[1485] |  | stat.correlation | Correlation matrix for RP
    coefficients
rp_n_relevant_bases | int16 |  | meta.number | Number of bases that are relevant for the
    representation of this mean RP spectrum
rp_relative_shrinking | float32 |  | stat.fit.param | Measure of the relative shrinking of the
    coefficient vector when truncation is applied for the mean RP spectrum
""")
