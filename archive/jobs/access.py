"""Who sees a job: the one rule for the TAP service and the web pages.

- A signed-in user sees the jobs of their account.
- An anonymous web visitor sees the jobs their session created (a visitor token kept in the
  session, not the session key): a web job's id alone opens nothing to anyone else.
- An anonymous TAP client (no cookies, as many are) reaches the jobs it created by their public
  id, 122 random bits: the job's URL is its key. Its job list shows the jobs of its session
  only, when it keeps the session cookie, so no list hands out other clients' ids.

Every operation (read, result, change, delete) asks :func:`can_see`; the lists come from
:func:`listed`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.http import HttpRequest

from .models import Job, JobQuerySet

#: the session key under which an anonymous visitor's token is kept
VISITOR = "visitor"


@dataclass(frozen=True)
class Caller:
    """Who asks: a signed-in user, or an anonymous session token and client address."""

    user: object | None = None  # an authenticated user
    session: str = ""  # an anonymous session's visitor token ("" when it has none)
    address: str = ""  # the client's address

    @property
    def anonymous(self) -> bool:
        return self.user is None

    @classmethod
    def of(cls, request: HttpRequest, *, start_session: bool = False) -> Caller:
        """The caller of ``request``; ``start_session``: give an anonymous caller a session
        (when it creates a job: the cookie then lists its jobs)."""
        address = request.META.get("REMOTE_ADDR", "") or ""
        if request.user.is_authenticated:
            return cls(user=request.user, address=address)
        token = request.session.get(VISITOR, "")
        if not token and start_session:
            token = request.session[VISITOR] = secrets.token_hex(16)
        return cls(session=token, address=address)

    @classmethod
    def of_job(cls, job: Job) -> Caller:
        """The caller that created ``job`` (a worker acting for it: uploads of results)."""
        return cls(user=job.owner, session=job.session, address=job.client)


def can_see(caller: Caller, job: Job) -> bool:
    """May ``caller`` read, run, change and delete ``job`` (and fetch its results)?"""
    if job.owner_id is not None:
        return caller.user is not None and caller.user.pk == job.owner_id
    if job.session and job.session == caller.session:
        return True
    # an anonymous TAP client's job: its unguessable id is the key (UWS clients send no cookie)
    return bool(job.client)


def listed(caller: Caller, jobs: JobQuerySet) -> JobQuerySet:
    """The caller's own jobs among ``jobs``: an account's, or an anonymous session's."""
    if caller.user is not None:
        return jobs.owned_by(caller.user)
    return jobs.of_session(caller.session)


def find(caller: Caller, jobs: JobQuerySet, public_id: str) -> Job | None:
    """The job of that public id among ``jobs`` if the caller may see it, else None (a job
    of someone else's is as absent as one that never was)."""
    job = jobs.select_related("owner").filter(public_id=public_id).first()
    return job if job is not None and can_see(caller, job) else None
