"""What the jobs layer refuses; the serving layer maps these onto UWS/DALI errors."""


class JobError(Exception):
    """Base of the jobs layer's errors."""


class UnknownKind(JobError):
    """No task is registered for this kind of job."""


class TransitionError(JobError):
    """The job's phase does not allow the move asked for (e.g. running a completed job)."""
