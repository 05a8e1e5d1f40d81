"""The archive's errors, one small typed hierarchy (in the style of pyvo's DALServiceError family).

Every error carries the HTTP status a service answers with and a ``kind`` a program can read
(the error document's ``ERROR_KIND`` INFO), so the serving layer maps any of them onto a DALI
error document (``archive.results.votable.error_document``) without a table of its own.
Messages are written for the person who sent the request.
"""

from __future__ import annotations


class ArchiveError(Exception):
    """Base of every error the archive reports to a user; ``status`` is the HTTP status."""

    status: int = 500
    kind: str = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(ArchiveError):
    """A request the service cannot honour as sent: a bad or missing parameter."""

    status = 400
    kind = "usage"


class BadParameter(UsageError):
    """A parameter whose value is not allowed (MAXREC not a number, a negative size...)."""

    def __init__(self, name: str, value: object, expected: str) -> None:
        super().__init__(f"{name}={value!r} is not allowed: {expected}")
        self.name, self.value = name, value


class UnknownFormat(UsageError):
    """A RESPONSEFORMAT / FORMAT no writer produces."""

    def __init__(self, value: str, known: list[str]) -> None:
        super().__init__(f"unknown format {value!r}; use one of: {', '.join(known)}")
        self.value = value


class QueryError(ArchiveError):
    """The query itself failed: a syntax error, an unknown column, a division by zero."""

    status = 400
    kind = "query"


class NotFound(ArchiveError):
    """A resource (table, job, result, spectrum) that does not exist."""

    status = 404
    kind = "not-found"


class LimitExceeded(ArchiveError):
    """A request beyond a limit of the service (a result size, a quota)."""

    status = 413
    kind = "limit"


class TooManyJobs(LimitExceeded):
    """The caller has as many jobs queued or waiting as their limits allow: wait, then retry."""

    status = 429
    kind = "too-many-jobs"


class QueryTimeout(LimitExceeded):
    """The query ran past its time limit (the statement timeout of its queue)."""

    # the database, upstream of the service, did not answer in time: not the request's size
    status = 504
    kind = "timeout"


class ServiceError(ArchiveError):
    """A fault of the service, not of the request (database down, a bug)."""

    status = 500
    kind = "service"


class ServiceUnavailable(ServiceError):
    """The service cannot answer now (maintenance, overload); the client may retry."""

    status = 503
    kind = "unavailable"


class StorageFull(ServiceError):
    """The database has no disk space left for a write (PostgreSQL's disk_full, 53100)."""

    status = 507
    kind = "storage-full"


class Conflict(ArchiveError):
    """A request at odds with what exists: a name taken, a table in use."""

    status = 409
