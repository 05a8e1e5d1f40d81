"""The UWS 1.1 phases of a job and the moves between them."""

from django.db import models


class Phase(models.TextChoices):
    """UWS 1.1 (IVOA REC 2016-10-24), section 2.1.3."""

    PENDING = "PENDING"  # created, not yet asked to run
    QUEUED = "QUEUED"  # asked to run, waiting for a worker
    EXECUTING = "EXECUTING"
    COMPLETED = "COMPLETED"
    ERROR = "ERROR"
    ABORTED = "ABORTED"
    HELD = "HELD"  # the service holds it (e.g. over a quota) until released
    SUSPENDED = "SUSPENDED"  # stopped by the service, may carry on
    ARCHIVED = "ARCHIVED"  # its results deleted, its record kept


ACTIVE = frozenset({Phase.QUEUED, Phase.EXECUTING, Phase.SUSPENDED})
FINAL = frozenset({Phase.COMPLETED, Phase.ERROR, Phase.ABORTED, Phase.ARCHIVED})

#: phase -> the phases it may move to. ERROR and ABORTED may go back to EXECUTING: a resumed
#: job (a new attempt carries the work on); UWS itself ends a job there.
TRANSITIONS: dict[Phase, frozenset[Phase]] = {
    Phase.PENDING: frozenset({Phase.QUEUED, Phase.HELD, Phase.ABORTED}),
    Phase.HELD: frozenset({Phase.PENDING, Phase.QUEUED, Phase.ABORTED}),
    Phase.QUEUED: frozenset({Phase.EXECUTING, Phase.HELD, Phase.ERROR, Phase.ABORTED}),
    Phase.EXECUTING: frozenset({Phase.COMPLETED, Phase.ERROR, Phase.ABORTED, Phase.SUSPENDED}),
    Phase.SUSPENDED: frozenset({Phase.EXECUTING, Phase.ERROR, Phase.ABORTED}),
    Phase.COMPLETED: frozenset({Phase.ARCHIVED}),
    Phase.ERROR: frozenset({Phase.EXECUTING, Phase.ARCHIVED}),
    Phase.ABORTED: frozenset({Phase.EXECUTING, Phase.ARCHIVED}),
    Phase.ARCHIVED: frozenset(),
}


def sources(to: Phase) -> list[Phase]:
    """The phases a job may reach ``to`` from."""
    return [p for p, targets in TRANSITIONS.items() if to in targets]
