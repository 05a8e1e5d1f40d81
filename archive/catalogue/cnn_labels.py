"""Writing CNN labels (Table 2 columns) of one model version: COPY, then an idempotent upsert;
removing them when the version is deleted.

Each version's rows go to its own partition of cnn_label (``partitions.py``), beside the
published one. Keyed by (model version, source_id): re-running a chunk — a retried task, a
worker killed half-way — rewrites the same rows, never duplicates them. Only a version that is still
``labelling`` takes rows: once ready (and perhaps published) its catalogue is fixed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from django.db import OperationalError, connection, transaction

from archive.errors import StorageFull
from archive.pgcopy import Column, copy_columns
from labeling.labels import LABELS, STORAGE_DTYPE

from .label_fields import storage_pgtype
from .partitions import create_partition, drop_partition

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


#: PostgreSQL's SQLSTATE for "could not extend file: No space left on device"
DISK_FULL = "53100"


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
    partition = create_partition(version_id)
    try:
        with transaction.atomic(), connection.cursor() as cur:
            # FOR SHARE: the switch to ready (an UPDATE) waits for chunks being written, and
            # then no chunk of a stale or re-delivered task can change a ready version's rows
            cur.execute(
                "SELECT name, status FROM model_version WHERE id = %s FOR SHARE", [version_id]
            )
            found = cur.fetchone()
            if found is None or found[1] != "labelling":
                name, status = found or (version_id, "missing")
                raise LabelWriteError(
                    f"model version {name} is {status}: its labels are not written"
                )
            cur.execute(
                f"CREATE TEMP TABLE {STAGE} ON COMMIT DROP AS "
                f"SELECT {names} FROM cnn_label WITH NO DATA"
            )
            copy_columns(cur, STAGE, columns)
            cur.execute(
                f"INSERT INTO public.{partition} ({names}) SELECT {names} FROM {STAGE} "
                f"ON CONFLICT (source_id) DO UPDATE SET {updates}"  # the partition's key
            )
            written = cur.rowcount
            cur.execute(f"DROP TABLE {STAGE}")
    except OperationalError as e:
        if getattr(e.__cause__, "sqlstate", None) == DISK_FULL:
            raise StorageFull(
                f"no disk space left to write the labels of model version {version_id} "
                f"(partition {partition}): free space on the database's disk, then resume "
                f"the run; nothing published changed. PostgreSQL: {e}"
            ) from e
        raise
    return written


def delete_labels(version: ModelVersion) -> int:
    """Remove every label of ``version``, which must be ``deleting`` (so never the published
    one), by dropping its partition: no DELETE, nothing to vacuum, no other version touched.
    Returns the rows removed (0 when it had no partition left)."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT name, status, is_published FROM model_version WHERE id = %s", [version.pk]
        )
        found = cur.fetchone()
        if found is None:
            return 0
        name, status, published = found
        if published:
            raise LabelWriteError(
                f"model version {name} is published: publish another before deleting its labels"
            )
        if status != "deleting":
            raise LabelWriteError(f"model version {name} is {status}: its labels are kept")
        cur.execute("SELECT count(*) FROM cnn_label WHERE model_version_id = %s", [version.pk])
        rows = cur.fetchone()[0]
    return rows if drop_partition(version.pk) else 0
