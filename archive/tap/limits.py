"""What each class of user may ask of the TAP service: rows, time, jobs, uploads.

Configuration as data: ``settings.TAP_LIMITS`` may override any field per class. Sync queries
run under a short statement timeout, async ones under a longer one; MAXREC defaults and caps
per class; anonymous users get fewer active jobs and smaller uploads. Job counts are per
visitor (an account, an anonymous web session, an anonymous TAP client's address), and
``settings.TAP_ACTIVE_JOBS_TOTAL`` caps the queries queued or executing for everyone at once.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from django.conf import settings


@dataclass(frozen=True)
class Limits:
    maxrec_default: int  # rows when MAXREC is absent
    maxrec_hard: int  # the most rows any request gets (MAXREC above it is capped)
    sync_timeout_s: int  # statement timeout of a sync query
    async_timeout_s: int  # statement timeout (and executionDuration) of an async job
    active_jobs: int  # async jobs QUEUED or EXECUTING at once
    pending_jobs: int  # jobs created and not yet run (PENDING, HELD) at once
    upload_bytes: int  # size of all UPLOADs of one request
    upload_rows: int  # rows of one uploaded table
    retention_s: int  # an async job is destroyed this long after its creation
    retention_max_s: int  # its owner may move its destruction up to this long from now


ANONYMOUS = Limits(
    maxrec_default=100_000,
    maxrec_hard=2_000_000,
    sync_timeout_s=60,
    async_timeout_s=1800,
    active_jobs=5,
    pending_jobs=20,
    upload_bytes=20 * 2**20,
    upload_rows=100_000,
    retention_s=3 * 86400,
    retention_max_s=7 * 86400,
)
REGISTERED = Limits(
    maxrec_default=1_000_000,
    maxrec_hard=50_000_000,
    sync_timeout_s=300,
    async_timeout_s=4 * 3600,
    active_jobs=20,
    pending_jobs=100,
    upload_bytes=200 * 2**20,
    upload_rows=5_000_000,
    retention_s=14 * 86400,
    retention_max_s=90 * 86400,
)


def _configured(name: str, base: Limits) -> Limits:
    overrides = getattr(settings, "TAP_LIMITS", {}).get(name, {})
    known = {f.name for f in fields(Limits)}
    unknown = set(overrides) - known
    if unknown:
        raise ValueError(f"settings.TAP_LIMITS[{name!r}]: unknown fields {sorted(unknown)}")
    return replace(base, **overrides)


def limits_for(user) -> Limits:
    """The limits of a request's user (anonymous, or signed in)."""
    if user is not None and user.is_authenticated:
        return _configured("registered", REGISTERED)
    return _configured("anonymous", ANONYMOUS)


#: queries queued or executing for all callers together, when settings do not say
ACTIVE_JOBS_TOTAL = 100


def active_jobs_total() -> int:
    """The most queries queued or executing at once, all callers together."""
    return int(getattr(settings, "TAP_ACTIVE_JOBS_TOTAL", ACTIVE_JOBS_TOTAL))
