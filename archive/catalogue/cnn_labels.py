"""Writing CNN labels (Table 2 columns) of one model version: COPY, then an idempotent upsert;
removing them when the version is deleted.

Keyed by (model version, source_id): re-running a chunk — a retried task, a worker killed
half-way — rewrites the same rows, never duplicates them. Only a version that is still
``labelling`` takes rows: once ready (and perhaps published) its catalogue is fixed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from django.db import connection, transaction

from archive.pgcopy import Column, copy_columns
from labeling.labels import LABELS, STORAGE_DTYPE

from .label_fields import storage_pgtype

if TYPE_CHECKING:  # labeling.pipeline loads TensorFlow; the web process must not
    from labeling.pipeline import Labelled

    from .models import ModelVersion

STAGE = "cnn_label_stage"
VALUE_COLUMNS = [
    *LABELS,
    *(f"e_{k}" for k in LABELS),
    *(f"sigma_{k}" for k in LABELS),
    "flag_boundary",
]


class LabelWriteError(RuntimeError):
    pass


def write_labels(version_id: int, labelled: Labelled) -> int:
    """Upsert the labels of a batch of stars of a version still ``labelling``; returns the
    number of rows written."""
    n = len(labelled.source_id)
    columns = [
        Column("model_version_id", "int8", np.full(n, version_id, dtype=np.int64)),
        Column("source_id", "int8", np.asarray(labelled.source_id, dtype=np.int64)),
    ]
    pgtype = storage_pgtype()
    for block, prefix in ((labelled.labels, ""), (labelled.e, "e_"), (labelled.sigma, "sigma_")):
        for j, name in enumerate(LABELS):
            columns.append(
                Column(
                    f"{prefix}{name}",
                    pgtype,
                    np.asarray(block[:, j], STORAGE_DTYPE),
                    null=np.zeros(n, dtype=bool),
                )
            )
    columns.append(
        Column(
            "flag_boundary",
            "text",
            np.asarray(labelled.flags, dtype=object),
            null=np.zeros(n, dtype=bool),
        )
    )
    names = ", ".join(c.name for c in columns)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in VALUE_COLUMNS)
    with transaction.atomic(), connection.cursor() as cur:
        # FOR SHARE: the switch to ready (an UPDATE) waits for chunks being written, and then
        # no chunk of a stale or re-delivered task can change a ready version's catalogue
        cur.execute("SELECT name, status FROM model_version WHERE id = %s FOR SHARE", [version_id])
        found = cur.fetchone()
        if found is None or found[1] != "labelling":
            name, status = found or (version_id, "missing")
            raise LabelWriteError(f"model version {name} is {status}: its labels are not written")
        cur.execute(
            f"CREATE TEMP TABLE {STAGE} ON COMMIT DROP AS "
            f"SELECT {names} FROM cnn_label WITH NO DATA"
        )
        copy_columns(cur, STAGE, columns)
        cur.execute(
            f"INSERT INTO cnn_label ({names}) SELECT {names} FROM {STAGE} "
            f"ON CONFLICT (model_version_id, source_id) DO UPDATE SET {updates}"
        )
        written = cur.rowcount
        cur.execute(f"DROP TABLE {STAGE}")
    return written


def delete_labels(version: ModelVersion) -> int:
    """Remove every label row of ``version``, which must be ``deleting`` (no other version's
    rows, and no labels that could still be published, are touched); returns the rows removed."""
    with transaction.atomic(), connection.cursor() as cur:
        # FOR SHARE: the status cannot change while the rows go (it cannot anyway, once deleting)
        cur.execute("SELECT name, status FROM model_version WHERE id = %s FOR SHARE", [version.pk])
        found = cur.fetchone()
        if found is None:
            return 0
        if found[1] != "deleting":
            raise LabelWriteError(f"model version {found[0]} is {found[1]}: its labels are kept")
        cur.execute("DELETE FROM cnn_label WHERE model_version_id = %s", [version.pk])
        return cur.rowcount
