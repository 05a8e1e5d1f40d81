"""The published schema, declared once: what users query through TAP, the web and downloads.

Four views over the catalogue tables in ``settings.PUBLISHED_SCHEMA`` (gaiadr3_rvs_cnn) and
the TAP_SCHEMA tables that describe them. Model-backed columns take their type, unit, UCD and
description from the model field (``archive/catalogue/models.py``); the rest are declared here.
Changing this module is one edit plus ``manage.py metadata makemigration`` (docs/metadata.md).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from archive.catalogue.models import CnnLabel, GaiaSource, TrainingStar, ready_sql
from labeling.labels import LABEL_SPECS, LABELS, Label

from .registry import Column, ForeignKey, Registry, Schema, Table, column_from_field

PAPER = "Guiglion et al. 2024, A&A 682, A9"


def _name(schema: str) -> Column:
    return Column(
        name="model_version",
        expr="v.name",
        datatype="char",
        arraysize="64*",
        ucd="meta.version",
        description="Name of the CNN model version (a deep ensemble) the labels come from",
        principal=True,
    )


def _label_columns(
    alias: str, model: type[models.Model] = CnnLabel, labels: tuple[Label, ...] = LABEL_SPECS
) -> list[Column]:
    """Table 2's label block: the labels, their e_* and sigma_*, and flag_boundary."""
    names = [x.name for x in labels]
    names += [f"e_{x.name}" for x in labels] + [f"sigma_{x.name}" for x in labels]
    principal = {x.name for x in labels} | {f"sigma_{x.name}" for x in labels}
    columns = [column_from_field(model, n, alias, principal=n in principal) for n in names]
    # fixed length always (a CHECK constraint); no cast in the view, which would hide the
    # column's statistics from the planner (a search on flags sorted 600 000 rows)
    flag = model._meta.get_field("flag_boundary")
    columns.append(
        column_from_field(
            model, "flag_boundary", alias, arraysize=str(flag.max_length), principal=True
        )
    )
    return columns


def _names(labels: tuple[Label, ...]) -> str:
    """The labels in a sentence, "Teff, log g and [M/H]" (ASCII, as descriptions are)."""
    symbols = [x.symbol for x in labels]
    return ", ".join(symbols[:-1]) + f" and {symbols[-1]}" if len(symbols) > 1 else symbols[0]


def _source_key(schema: str) -> ForeignKey:
    return ForeignKey(
        target=f"{schema}.gaia_source",
        columns=(("source_id", "source_id"),),
        description="The Gaia DR3 source of the row",
    )


def _version_key(schema: str) -> ForeignKey:
    return ForeignKey(
        target=f"{schema}.model_versions",
        columns=(("model_version", "model_version"),),
        description="The model version of the row",
    )


def gaia_source(schema: str) -> Table:
    principal = {"source_id", "ra", "dec", "parallax", "phot_g_mean_mag", "rvs_spec_sig_to_noise"}
    indexed = {"source_id", "ra", "dec"}
    return Table(
        name="gaia_source",
        description="Gaia DR3 gaia_source columns of the RVS stars the CNN labels (a subset of "
        "gaiadr3.gaia_source: astrometry, photometry, RVS S/N and the flags the selection uses)",
        columns=tuple(
            column_from_field(
                GaiaSource,
                f.name,
                "g",
                principal=f.column in principal,
                indexed=f.column in indexed,
                std=True,
            )
            for f in GaiaSource._meta.concrete_fields
        ),
        from_sql="FROM public.gaia_source g",
    )


def rvs_cnn(
    schema: str, model: type[models.Model] = CnnLabel, labels: tuple[Label, ...] = LABEL_SPECS
) -> Table:
    """The published catalogue; ``model`` and ``labels`` are the declarations it derives
    from (a test passes others)."""
    return Table(
        name="rvs_cnn",
        description=f"The published RVS-CNN catalogue (Table 2 of {PAPER}): "
        f"{_names(labels)} from the hybrid CNN's deep ensemble, their model-to-model errors "
        "e_*, total uncertainties sigma_* and flag_boundary, for the published model version. "
        "Labels are as the network gives them: one whose flag_boundary digit is 1 lies "
        "outside the training sample and is an extrapolation",
        columns=(
            column_from_field(model, "source", "l", principal=True, indexed=True),
            column_from_field(GaiaSource, "ra", "g", principal=True, indexed=True),
            column_from_field(GaiaSource, "dec", "g", principal=True, indexed=True),
            *_label_columns("l", model, labels),
            _name(schema),
        ),
        # LEFT JOINs: every label has its gaia_source and model_version rows (foreign keys),
        # so the rows are the same, and PostgreSQL drops a join whose columns a query does not
        # read. The published version is a subquery (an InitPlan), so the executor reads the
        # one partition of cnn_label it names and prunes the others; publishing updates
        # model_version and never touches the view (no lock a reader could wait for)
        from_sql="FROM public.cnn_label l\n"
        "LEFT JOIN public.model_version v ON v.id = l.model_version_id\n"
        "LEFT JOIN public.gaia_source g ON g.source_id = l.source_id\n"
        "WHERE l.model_version_id = "
        "(SELECT p.id FROM public.model_version p WHERE p.is_published)",
        foreign_keys=(_source_key(schema), _version_key(schema)),
    )


def rvs_cnn_versions(schema: str) -> Table:
    return Table(
        name="rvs_cnn_versions",
        description="CNN labels of every ready model version, published or not, to compare "
        "versions star by star (the columns of rvs_cnn per model_version)",
        columns=(
            _name(schema),
            column_from_field(CnnLabel, "source", "l", principal=True, indexed=True),
            *_label_columns("l"),
        ),
        from_sql="FROM public.cnn_label l\n"
        f"JOIN public.model_version v ON v.id = l.model_version_id AND {ready_sql('v')}",
        foreign_keys=(_source_key(schema), _version_key(schema)),
    )


def training_sample(schema: str) -> Table:
    labels = [f"apogee_{k}" for k in LABELS]
    errors = [f"apogee_e_{k}" for k in LABELS]
    return Table(
        name="training_sample",
        description="The training sample of each ready model version (Sect. 2.2 of "
        f"{PAPER}): the APOGEE DR17 labels each star was trained on, whether it was held out "
        "and which train/validation splits validated it",
        columns=(
            _name(schema),
            column_from_field(TrainingStar, "source", "t", principal=True, indexed=True),
            *(column_from_field(TrainingStar, n, "t", principal=True) for n in labels),
            *(column_from_field(TrainingStar, n, "t") for n in errors),
            column_from_field(TrainingStar, "held_out", "t", principal=True),
            column_from_field(TrainingStar, "validation_splits", "t"),
        ),
        from_sql="FROM public.training_star t\n"
        f"JOIN public.model_version v ON v.id = t.model_version_id AND {ready_sql('v')}",
        foreign_keys=(_source_key(schema), _version_key(schema)),
    )


def model_versions(schema: str) -> Table:
    def col(name: str, expr: str, datatype: str, description: str, **kw) -> Column:
        return Column(name=name, expr=expr, datatype=datatype, description=description, **kw)

    return Table(
        name="model_versions",
        description="The ready CNN model versions (deep ensembles, Sect. 3.2): how each was "
        "trained and which one rvs_cnn publishes",
        columns=(
            _name(schema),
            col(
                "created_at",
                "to_char(v.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS')",
                "char",
                "When the version was trained (UTC)",
                arraysize="*",
                xtype="timestamp",
                ucd="time.creation",
            ),
            col(
                "inputs",
                "v.inputs",
                "char",
                "CNN inputs: hybrid (RVS, photometry, parallax, XP; Sect. 3.1) or rvs_only",
                arraysize="16*",
                ucd="meta.code",
            ),
            col(
                "n_splits",
                "v.n_splits",
                "short",
                "Train/validation splits of the ensemble",
                ucd="meta.number",
            ),
            col(
                "n_members",
                "v.n_members",
                "short",
                "Models trained per split",
                ucd="meta.number",
            ),
            col(
                "is_published",
                "v.is_published",
                "boolean",
                "True for the version rvs_cnn shows",
                ucd="meta.code.status",
                principal=True,
            ),
            col(
                "published_at",
                "to_char(v.published_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS')",
                "char",
                "When the version was last published (UTC); empty if never",
                arraysize="*",
                xtype="timestamp",
                ucd="time.publiYear",
            ),
        ),
        from_sql=f"FROM public.model_version v WHERE {ready_sql('v')}",
    )


def _tap_table(
    name: str,
    description: str,
    columns: list[tuple[str, str, str]],
    keys: tuple[tuple[str, str, str], ...] = (),
) -> Table:
    """A TAP_SCHEMA table; ``keys``: (column, target table, target column)."""
    return Table(
        name=name,
        description=description,
        foreign_keys=tuple(
            ForeignKey(target=f"TAP_SCHEMA.{target}", columns=((column, target_column),))
            for column, target, target_column in keys
        ),
        columns=tuple(
            Column(
                name=c,
                expr=c,
                datatype=t,
                arraysize="*" if t == "char" else None,
                description=d,
                principal=True,
                std=True,
            )
            for c, t, d in columns
        ),
    )


TAP_SCHEMA = Schema(
    name="TAP_SCHEMA",
    description="Metadata of the tables this service publishes (IVOA TAP 1.1, Sect. 4)",
    tables=(
        _tap_table(
            "schemas",
            "Schemas of this service",
            [
                ("schema_name", "char", "Schema name, as used in queries"),
                ("utype", "char", "Schema utype"),
                ("description", "char", "Description of the schema"),
                ("schema_index", "int", "Order in which to show the schemas"),
            ],
        ),
        _tap_table(
            "tables",
            "Tables of this service",
            [
                ("schema_name", "char", "Schema the table belongs to"),
                ("table_name", "char", "Fully qualified table name, as used in queries"),
                ("table_type", "char", "table or view"),
                ("utype", "char", "Table utype"),
                ("description", "char", "Description of the table"),
                ("table_index", "int", "Order in which to show the tables"),
            ],
            keys=(("schema_name", "schemas", "schema_name"),),
        ),
        _tap_table(
            "columns",
            "Columns of the tables of this service",
            [
                ("table_name", "char", "Fully qualified table name"),
                ("column_name", "char", "Column name"),
                ("datatype", "char", "VOTable datatype"),
                ("arraysize", "char", "VOTable arraysize"),
                ("xtype", "char", "VOTable/DALI xtype"),
                # an ADQL reserved word: TAP 1.1 names it delimited
                ('"size"', "int", "Length of fixed-length arrays (deprecated in TAP 1.1)"),
                ("description", "char", "Description of the column"),
                ("utype", "char", "Column utype"),
                ("unit", "char", "Unit in VOUnit syntax"),
                ("ucd", "char", "UCD1+ of the column"),
                ("indexed", "int", "1 if the column is indexed"),
                ("principal", "int", "1 if the column is principal"),
                ("std", "int", "1 if the column is defined by a standard"),
                ("column_index", "int", "Order of the column in its table"),
            ],
            keys=(("table_name", "tables", "table_name"),),
        ),
        _tap_table(
            "keys",
            "Foreign keys between the tables of this service",
            [
                ("key_id", "char", "Key identifier"),
                ("from_table", "char", "Fully qualified table the key is in"),
                ("target_table", "char", "Fully qualified table the key points at"),
                ("utype", "char", "Key utype"),
                ("description", "char", "Description of the key"),
            ],
            keys=(
                ("from_table", "tables", "table_name"),
                ("target_table", "tables", "table_name"),
            ),
        ),
        _tap_table(
            "key_columns",
            "Columns of the foreign keys",
            [
                ("key_id", "char", "Key identifier"),
                ("from_column", "char", "Column in from_table"),
                ("target_column", "char", "Column in target_table"),
            ],
            keys=(("key_id", "keys", "key_id"),),
        ),
    ),
)


def published_schema(schema: str) -> Schema:
    return Schema(
        name=schema,
        description=f"Gaia DR3 RVS stellar parameters from the hybrid CNN of {PAPER}: the "
        "catalogue, its model versions, their training samples and the Gaia DR3 inputs",
        tables=(
            rvs_cnn(schema),
            rvs_cnn_versions(schema),
            model_versions(schema),
            training_sample(schema),
            gaia_source(schema),
        ),
    )


def registry() -> Registry:
    """The registry of this archive (the published schema named by the settings)."""
    return Registry(schemas=(published_schema(settings.PUBLISHED_SCHEMA), TAP_SCHEMA))
