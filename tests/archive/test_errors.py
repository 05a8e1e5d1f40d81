"""archive.errors: one hierarchy, each error with the HTTP status a service answers with."""

import pytest

from archive import errors


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.UsageError("bad"), 400),
        (errors.BadParameter("MAXREC", "ten", "a number"), 400),
        (errors.UnknownFormat("xlsx", ["csv"]), 400),
        (errors.QueryError("syntax"), 400),
        (errors.NotFound("no job 7"), 404),
        (errors.LimitExceeded("too long"), 413),
        (errors.TooManyJobs("5 of 5 running"), 429),
        (errors.QueryTimeout("ran out of time"), 504),
        (errors.ServiceError("down"), 500),
        (errors.ServiceUnavailable("maintenance"), 503),
    ],
)
def test_statuses(error, status):
    assert isinstance(error, errors.ArchiveError)
    assert error.status == status
    assert str(error) == error.message


def test_bad_parameter_names_the_parameter_and_the_value():
    error = errors.BadParameter("MAXREC", "ten", "a whole number of rows")
    assert error.message == "MAXREC='ten' is not allowed: a whole number of rows"
    assert (error.name, error.value) == ("MAXREC", "ten")
