"""Which Celery task does each kind of job: views enqueue by name, never import ``tasks``.

Apps register their kinds (:class:`~.kinds.Kind`) in ``AppConfig.ready`` (``archive.ops``:
``Kind.PIPELINE``). A kind's task
takes ``(job_id, attempt)`` and starts with :func:`archive.jobs.lifecycle.start`, which returns
None when the job was aborted or resumed since: the task then does nothing.
"""

from dataclasses import dataclass

from .errors import UnknownKind
from .kinds import Kind


@dataclass(frozen=True)
class JobKind:
    name: str  # Job.kind: a Kind
    task: str  # the Celery task name the worker registers, e.g. "pipeline.start"
    description: str = ""


_KINDS: dict[str, JobKind] = {}


def register(name: Kind, task: str, description: str = "") -> JobKind:
    """Declare a kind of job and the task that runs it (idempotent for the same task)."""
    name = Kind(name)  # a kind not in the enum is a typo, found at start-up
    kind = JobKind(name, task, description)
    if _KINDS.get(name, kind) != kind:
        raise ValueError(f"job kind {name!r} is registered with {_KINDS[name].task} already")
    _KINDS[name] = kind
    return kind


def kind(name: str) -> JobKind:
    try:
        return _KINDS[name]
    except KeyError:
        raise UnknownKind(f"no job kind {name!r} (known: {', '.join(sorted(_KINDS))})") from None


def kinds() -> list[JobKind]:
    return sorted(_KINDS.values(), key=lambda k: k.name)
