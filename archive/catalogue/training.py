"""Writing a model version's training sample (``training_star``): labels, hold-out, splits.

Written once per version when the pipeline builds it (``tasks.pipeline.finalize``); a
re-delivered task rewrites the same rows, since the version's rows are replaced as one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from django.db import connection, transaction

from archive.pgcopy import Column, copy_columns
from labeling.labels import LABELS


def validation_split_mask(
    n_train: int, splits: Sequence[tuple[np.ndarray, np.ndarray]]
) -> np.ndarray:
    """(n_train,) int32: bit ``s`` set where split ``s`` validated the star (indices into the
    trained stars, as :class:`labeling.pipeline.Plan` holds them)."""
    if len(splits) > 31:
        raise ValueError(f"{len(splits)} splits do not fit a 31-bit mask")
    mask = np.zeros(n_train, dtype=np.int32)
    for s, (_, validation) in enumerate(splits):
        mask[np.asarray(validation, dtype=np.int64)] |= np.int32(1 << s)
    return mask


def write_training_sample(
    version_id: int,
    source_ids: np.ndarray,
    labels: np.ndarray,
    label_errors: np.ndarray | None,
    holdout: np.ndarray,
    train: np.ndarray,
    splits: Sequence[tuple[np.ndarray, np.ndarray]],
) -> int:
    """Replace the training sample of a version; returns the number of rows written.

    ``holdout`` and ``train`` index ``source_ids``; ``splits`` index ``train`` (Plan's layout).
    NaN label errors are stored as NULL.
    """
    source_ids = np.asarray(source_ids, dtype=np.int64)
    n = source_ids.size
    held_out = np.zeros(n, dtype=bool)
    held_out[np.asarray(holdout, dtype=np.int64)] = True
    masks = np.zeros(n, dtype=np.int32)
    masks[np.asarray(train, dtype=np.int64)] = validation_split_mask(len(train), splits)
    errors = np.full((n, len(LABELS)), np.nan) if label_errors is None else label_errors
    columns = [
        Column("model_version_id", "int8", np.full(n, version_id, dtype=np.int64)),
        Column("source_id", "int8", source_ids),
        *(
            Column(f"apogee_{k}", "float8", np.asarray(labels[:, j], float), np.zeros(n, bool))
            for j, k in enumerate(LABELS)
        ),
        *(
            Column(f"apogee_e_{k}", "float8", np.asarray(errors[:, j], float))
            for j, k in enumerate(LABELS)
        ),
        Column("held_out", "bool", held_out),
        Column("validation_splits", "int4", masks),
    ]
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("DELETE FROM training_star WHERE model_version_id = %s", [version_id])
        return copy_columns(cur, "training_star", columns)
