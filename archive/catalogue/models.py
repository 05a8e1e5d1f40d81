"""Catalogue models: the Gaia DR3 inputs, APOGEE DR17 labels, model versions and CNN labels.

Every column carries its unit, UCD and description (see ``vo.py``); they generate TAP_SCHEMA.
Spectra are not stored in rows: ``RvsSpectrum`` points into the Zarr spectrum store.
"""

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GistIndex
from django.db import models
from django.db.models import F, Func, Q
from django.db.models.functions import Radians

from labeling.flags import FLAG_LENGTH
from labeling.io.gaia_schema import ASTROPHYSICAL_PARAMETERS_SCHEMA, GAIA_SOURCE_SCHEMA

from .label_fields import apogee_label_fields, cnn_label_fields, columns, training_star_fields
from .vo import gaia_vo, vo

N_XP_COEFFICIENTS = 55  # per band, Gaia DR3 XP continuous (Sect. 2 of the paper)
#: the off-diagonal correlations of one band's 55 coefficients, packed as Gaia DR3 packs them
N_XP_CORRELATIONS = N_XP_COEFFICIENTS * (N_XP_COEFFICIENTS - 1) // 2


def xp_array(size: int = N_XP_COEFFICIENTS) -> ArrayField:
    """The 55 coefficients (or their 1485 correlations) of one band; null when the band is
    missing (e.g. no BP)."""
    return ArrayField(models.FloatField(), size=size, null=True)


def sky_indexes(table: str) -> list[models.Index]:
    """q3c for cone search and crossmatch; GiST on spoint for the ADQL translator's geometry."""
    return [
        models.Index(Func(F("ra"), F("dec"), function="q3c_ang2ipix"), name=f"{table}_q3c"),
        GistIndex(Func(Radians("ra"), Radians("dec"), function="spoint"), name=f"{table}_spoint"),
    ]


class GaiaSource(models.Model):
    """A Gaia DR3 source of the RVS sample (a subset of gaiadr3.gaia_source columns)."""

    source_id = gaia_vo(
        GAIA_SOURCE_SCHEMA,
        "source_id",
        models.BigIntegerField(primary_key=True),
        description="Gaia DR3 unique source identifier",
    )
    ra = gaia_vo(
        GAIA_SOURCE_SCHEMA,
        "ra",
        models.FloatField(),
        description="Right ascension (ICRS, epoch J2016.0)",
    )
    dec = gaia_vo(
        GAIA_SOURCE_SCHEMA,
        "dec",
        models.FloatField(),
        description="Declination (ICRS, epoch J2016.0)",
    )
    parallax = gaia_vo(
        GAIA_SOURCE_SCHEMA, "parallax", models.FloatField(null=True), description="Parallax"
    )
    parallax_error = gaia_vo(
        GAIA_SOURCE_SCHEMA,
        "parallax_error",
        models.FloatField(null=True),
        description="Standard error of parallax",
    )
    phot_g_mean_mag = gaia_vo(
        GAIA_SOURCE_SCHEMA,
        "phot_g_mean_mag",
        models.FloatField(null=True),
        description="G-band mean magnitude (Vega)",
    )
    phot_bp_mean_mag = gaia_vo(
        GAIA_SOURCE_SCHEMA,
        "phot_bp_mean_mag",
        models.FloatField(null=True),
        description="Integrated BP mean magnitude (Vega)",
    )
    phot_rp_mean_mag = gaia_vo(
        GAIA_SOURCE_SCHEMA,
        "phot_rp_mean_mag",
        models.FloatField(null=True),
        description="Integrated RP mean magnitude (Vega)",
    )
    phot_g_mean_flux_over_error = gaia_vo(
        GAIA_SOURCE_SCHEMA,
        "phot_g_mean_flux_over_error",
        models.FloatField(null=True),
        description="G-band mean flux divided by its error",
    )
    phot_bp_mean_flux_over_error = gaia_vo(
        GAIA_SOURCE_SCHEMA,
        "phot_bp_mean_flux_over_error",
        models.FloatField(null=True),
        description="Integrated BP mean flux divided by its error",
    )
    phot_rp_mean_flux_over_error = gaia_vo(
        GAIA_SOURCE_SCHEMA,
        "phot_rp_mean_flux_over_error",
        models.FloatField(null=True),
        description="Integrated RP mean flux divided by its error",
    )
    ruwe = gaia_vo(
        GAIA_SOURCE_SCHEMA,
        "ruwe",
        models.FloatField(null=True),
        description="Renormalised unit weight error of the astrometric solution",
    )
    rvs_spec_sig_to_noise = gaia_vo(
        GAIA_SOURCE_SCHEMA,
        "rvs_spec_sig_to_noise",
        models.FloatField(null=True),
        description="Signal-to-noise ratio of the mean RVS spectrum",
    )
    radial_velocity = gaia_vo(
        GAIA_SOURCE_SCHEMA,
        "radial_velocity",
        models.FloatField(null=True),
        description="Radial velocity",
    )
    radial_velocity_error = gaia_vo(
        GAIA_SOURCE_SCHEMA,
        "radial_velocity_error",
        models.FloatField(null=True),
        description="Radial velocity error",
    )
    non_single_star = gaia_vo(
        GAIA_SOURCE_SCHEMA,
        "non_single_star",
        models.SmallIntegerField(null=True),
        description="Flag of non-single star solutions (0: single)",
    )
    phot_variable_flag = gaia_vo(
        GAIA_SOURCE_SCHEMA,
        "phot_variable_flag",
        models.CharField(max_length=16, blank=True, db_default=""),
        description="Photometric variability flag (VARIABLE, CONSTANT, NOT_AVAILABLE)",
    )
    in_qso_candidates = gaia_vo(
        GAIA_SOURCE_SCHEMA,
        "in_qso_candidates",
        models.BooleanField(null=True),
        description="Source is in the qso_candidates table",
    )
    in_galaxy_candidates = gaia_vo(
        GAIA_SOURCE_SCHEMA,
        "in_galaxy_candidates",
        models.BooleanField(null=True),
        description="Source is in the galaxy_candidates table",
    )
    has_xp_continuous = gaia_vo(
        GAIA_SOURCE_SCHEMA,
        "has_xp_continuous",
        models.BooleanField(null=True),
        description="Source has XP continuous mean spectra",
    )
    classlabel_espels = gaia_vo(
        ASTROPHYSICAL_PARAMETERS_SCHEMA,
        "classlabel_espels",
        models.CharField(max_length=16, blank=True, db_default=""),
        description="ESP-ELS class of emission-line star (astrophysical_parameters); empty if none",
    )

    class Meta:
        db_table = "gaia_source"
        indexes = sky_indexes("gaia_source")

    def __str__(self) -> str:
        return f"Gaia DR3 {self.source_id}"


class RvsSpectrum(models.Model):
    """Reference to a Gaia DR3 RVS mean spectrum (2401 pixels, 846-870 nm) in the array store."""

    source = vo(
        models.OneToOneField(
            GaiaSource,
            on_delete=models.CASCADE,
            primary_key=True,
            db_column="source_id",
            related_name="rvs_spectrum",
        ),
        ucd="meta.id;meta.main",
        description="Gaia DR3 source identifier",
    )
    store_array = vo(
        models.CharField(max_length=200),
        ucd="meta.ref",
        description="Array of the spectrum store holding the flux and flux_error",
    )
    store_row = vo(
        models.BigIntegerField(), ucd="meta.ref", description="Row of this spectrum in that array"
    )
    n_nan_pixels = vo(
        models.SmallIntegerField(db_default=0),
        ucd="meta.number",
        description="Number of NaN flux pixels out of 2401",
    )
    content_hash = vo(
        models.CharField(max_length=32, db_default=""),
        ucd="meta.checksum",
        description="BLAKE2b-128 of the stored flux and flux_error; re-ingest skips unchanged",
    )
    combined_transits = vo(
        models.SmallIntegerField(null=True),
        ucd="meta.number",
        description="Number of transits combined in the mean spectrum",
    )
    combined_ccds = vo(
        models.SmallIntegerField(null=True),
        ucd="meta.number",
        description="Number of CCD spectra combined in the mean spectrum",
    )
    deblended_ccds = vo(
        models.SmallIntegerField(null=True),
        ucd="meta.number",
        description="Number of deblended CCD spectra combined",
    )

    class Meta:
        db_table = "rvs_spectrum"
        constraints = [
            models.UniqueConstraint(
                fields=["store_array", "store_row"], name="rvs_spectrum_store_ref_uniq"
            ),
        ]

    def __str__(self) -> str:
        return f"RVS spectrum of {self.source_id} ({self.store_array}[{self.store_row}])"


class XpCoefficients(models.Model):
    """Gaia DR3 XP continuous mean spectrum: 55 BP and 55 RP Hermite-basis coefficients."""

    source = vo(
        models.OneToOneField(
            GaiaSource,
            on_delete=models.CASCADE,
            primary_key=True,
            db_column="source_id",
            related_name="xp",
        ),
        ucd="meta.id;meta.main",
        description="Gaia DR3 source identifier",
    )
    bp_coefficients = vo(
        xp_array(),
        unit="e-.s**-1",
        ucd="spect.continuum;em.opt.B",
        description="BP basis-function coefficients (55)",
    )
    bp_coefficient_errors = vo(
        xp_array(),
        unit="e-.s**-1",
        ucd="stat.error;spect.continuum;em.opt.B",
        description="Errors of the BP coefficients",
    )
    rp_coefficients = vo(
        xp_array(),
        unit="e-.s**-1",
        ucd="spect.continuum;em.opt.R",
        description="RP basis-function coefficients (55)",
    )
    rp_coefficient_errors = vo(
        xp_array(),
        unit="e-.s**-1",
        ucd="stat.error;spect.continuum;em.opt.R",
        description="Errors of the RP coefficients",
    )
    bp_coefficient_correlations = vo(
        xp_array(N_XP_CORRELATIONS),
        ucd="stat.correlation;em.opt.B",
        description="Correlations of the BP coefficients: the 1485 off-diagonal elements of "
        "the 55x55 matrix, packed as in Gaia DR3",
    )
    rp_coefficient_correlations = vo(
        xp_array(N_XP_CORRELATIONS),
        ucd="stat.correlation;em.opt.R",
        description="Correlations of the RP coefficients: the 1485 off-diagonal elements of "
        "the 55x55 matrix, packed as in Gaia DR3",
    )
    bp_standard_deviation = vo(
        models.FloatField(null=True),
        ucd="stat.stdev;em.opt.B",
        description="Standard deviation of the BP least-squares fit",
    )
    rp_standard_deviation = vo(
        models.FloatField(null=True),
        ucd="stat.stdev;em.opt.R",
        description="Standard deviation of the RP least-squares fit",
    )
    bp_n_relevant_bases = vo(
        models.SmallIntegerField(null=True),
        ucd="meta.number;em.opt.B",
        description="Number of relevant BP bases",
    )
    rp_n_relevant_bases = vo(
        models.SmallIntegerField(null=True),
        ucd="meta.number;em.opt.R",
        description="Number of relevant RP bases",
    )

    class Meta:
        db_table = "xp_coefficients"
        verbose_name_plural = "XP coefficients"

    def __str__(self) -> str:
        return f"XP coefficients of {self.source_id}"


class ApogeeLabel(columns("ApogeeLabelColumns", apogee_label_fields())):
    """One row of the APOGEE DR17 allStar file: the training labels (Sect. 2.2 of the paper);
    each label and its error from ``labeling.labels.LABEL_SPECS`` (``label_fields``)."""

    apogee_id = vo(
        models.CharField(max_length=64), ucd="meta.id", description="APOGEE object name (APOGEE_ID)"
    )
    telescope = vo(
        models.CharField(max_length=16),
        ucd="instr.tel",
        description="Telescope of the observation (apo25m, lco25m, apo1m)",
    )
    field = vo(
        models.CharField(max_length=64), ucd="meta.id", description="APOGEE field name (FIELD)"
    )
    source_id = vo(
        models.BigIntegerField(null=True, db_index=True),
        ucd="meta.id.cross",
        description="Gaia (E)DR3 source identifier (GAIAEDR3_SOURCE_ID)",
    )
    aspcapflag = vo(
        models.BigIntegerField(db_default=0),
        ucd="meta.code.qual",
        description="ASPCAP bitmask (ASPCAPFLAG); bits 7 STAR_WARN, 23 STAR_BAD",
    )
    aspcap_chi2 = vo(
        models.FloatField(null=True),
        ucd="stat.fit.chi2",
        description="Chi-squared of the ASPCAP fit (ASPCAP_CHI2)",
    )
    fe_h_flag = vo(
        models.IntegerField(db_default=0),
        ucd="meta.code.qual",
        description="Flag of the [Fe/H] determination (FE_H_FLAG); 0 is good",
    )
    snr = vo(
        models.FloatField(null=True),
        ucd="stat.snr",
        description="APOGEE spectrum signal-to-noise ratio per pixel (SNR)",
    )

    class Meta:
        db_table = "apogee_label"
        constraints = [
            # one allStar row per star, telescope and field: re-ingesting updates it
            models.UniqueConstraint(
                fields=["apogee_id", "telescope", "field"], name="apogee_label_star_uniq"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.apogee_id} ({self.telescope}/{self.field})"


def ready_sql(alias: str) -> str:
    """Raw SQL's spelling of :meth:`ModelVersionQuerySet.ready` for the row ``alias``."""
    return f"{alias}.status = '{ModelVersion.Status.READY.value}'"


class ModelVersionQuerySet(models.QuerySet):
    def ready(self) -> "ModelVersionQuerySet":
        """Versions whose catalogue is complete (the only ones that may be published)."""
        return self.filter(status=ModelVersion.Status.READY)

    def published(self) -> "ModelVersionQuerySet":
        """The published version (one at most, by a constraint)."""
        return self.filter(is_published=True)


class ModelVersion(models.Model):
    """A trained deep ensemble (Sect. 3.2): immutable once ready; at most one is published.

    The version's directory holds the members, scalers, training ranges, dispersion fits and the
    t-SNE reference. A version is ``labelling`` while the pipeline writes its catalogue and
    becomes ``ready`` once every catalogue star has its row; only a ready version can be
    published, and its labels are no longer written (``write_labels`` refuses). A database
    trigger (migration 0002) refuses changes to a ready version's science fields; only
    publication fields may change, and an unpublished ready version may become ``deleting``
    (migration 0008), from which nothing returns: ``archive.ops.deletion`` then removes it.
    """

    class Status(models.TextChoices):
        TRAINING = "training"
        LABELLING = "labelling"
        READY = "ready"
        FAILED = "failed"
        DELETING = "deleting"

    class Inputs(models.TextChoices):
        HYBRID = "hybrid", "RVS + photometry/astrometry + XP (Sect. 3.1)"
        RVS_ONLY = "rvs_only", "RVS spectrum only (Appendix B)"

    name = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=16, choices=Status, default=Status.TRAINING)
    inputs = models.CharField(max_length=16, choices=Inputs, default=Inputs.HYBRID)
    n_splits = models.PositiveSmallIntegerField(default=7)
    n_members = models.PositiveSmallIntegerField(default=4, help_text="Members per split")
    config = models.JSONField(default=dict, help_text="Full training configuration")
    path = models.CharField(max_length=500, blank=True, help_text="Directory of the version")
    data_hash = models.CharField(
        max_length=64, blank=True, help_text="SHA-256 of the training data"
    )
    code_version = models.CharField(max_length=64, blank=True)
    framework_versions = models.JSONField(default=dict, blank=True)
    is_published = models.BooleanField(default=False)
    published_at = models.DateTimeField(null=True, blank=True)

    objects = ModelVersionQuerySet.as_manager()

    class Meta:
        db_table = "model_version"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_published"],
                condition=Q(is_published=True),
                name="model_version_one_published",
            ),
            models.CheckConstraint(
                condition=~Q(is_published=True) | Q(status="ready"),
                name="model_version_published_is_ready",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def n_models(self) -> int:
        return self.n_splits * self.n_members


class CnnLabel(columns("CnnLabelColumns", cnn_label_fields())):
    """CNN labels of one star from one model version: Table 2 of the paper (Sect. 5.4); the
    labels, e_*, sigma_* and flag_boundary from their declarations (``label_fields``).

    The table is LIST-partitioned by model version, one partition per version
    (``partitions.py``; migration 0008): a run fills its own partition beside the published
    one, and deleting a version drops its partition. Each partition's primary key is
    source_id (migration 0010: a one-column key is one the planner reads in source_id order,
    so a whole-catalogue download merges with gaia_source and starts at once); the parent has
    none, and the composite key here is the one they imply together.
    """

    pk = models.CompositePrimaryKey("model_version", "source")
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="labels", db_index=False
    )
    source = vo(
        models.ForeignKey(
            GaiaSource,
            on_delete=models.CASCADE,
            db_column="source_id",
            related_name="cnn_labels",
            db_index=False,
        ),
        ucd="meta.id;meta.main",
        description="Gaia DR3 source identifier",
    )

    class Meta:
        db_table = "cnn_label"
        # equality and GROUP BY on flag_boundary: an index-only scan of a small (deduplicated)
        # index; led by the version, which the published view filters on (bench/storage.py)
        indexes = [
            models.Index(fields=["model_version", "flag_boundary"], name="cnn_label_flag_boundary")
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(flag_boundary__regex=rf"^[01]{{{FLAG_LENGTH}}}$"),
                name=f"cnn_label_flag_boundary_{FLAG_LENGTH}_digits",
            ),
        ]

    def __str__(self) -> str:
        return f"CNN labels of {self.source_id} ({self.model_version_id})"


class TrainingStar(columns("TrainingStarColumns", training_star_fields())):
    """A star of a version's training sample (Sect. 2.2): the APOGEE DR17 labels it was trained
    or validated on, and where it went — held out (never trained on, validates the version and
    calibrates σ_*) or trained, with the splits whose validation part it was in (Sect. 3.2)."""

    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="training_stars"
    )
    source = vo(
        models.ForeignKey(
            GaiaSource,
            on_delete=models.CASCADE,
            db_column="source_id",
            related_name="training_stars",
            db_index=False,
        ),
        ucd="meta.id;meta.main",
        description="Gaia DR3 source identifier",
    )
    held_out = vo(
        models.BooleanField(),
        ucd="meta.code",
        description="True: held out, never trained on by any member (validates the version and "
        "calibrates sigma_*); false: trained",
    )
    validation_splits = vo(
        models.IntegerField(),
        ucd="meta.code",
        description="Bit mask of the train/validation splits whose validation part held this "
        "star out (bit i: split i); 0 for held-out stars",
    )

    class Meta:
        db_table = "training_star"
        constraints = [
            models.UniqueConstraint(
                fields=["model_version", "source"], name="training_star_version_source_uniq"
            ),
        ]

    def __str__(self) -> str:
        return f"training star {self.source_id} of {self.model_version_id}"
