"""``/tap/user_tables``: a signed-in user's personal tables over HTTP (the web page's panel
and pyvo/requests with an API token). JSON in and out; errors as ``{"error": ...}`` with the
error's HTTP status.

POST (multipart) creates from a ``table`` file part or a finished ``job``'s result; DELETE on
``user_tables/<name>`` drops; POST ``user_tables/<name>/share`` with ``users`` (comma-separated)
shares, with ``revoke=true`` unshares.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.views.decorators.csrf import csrf_exempt

from archive.errors import ArchiveError, NotFound, UsageError
from archive.jobs import lifecycle
from archive.jobs.kinds import Kind
from archive.jobs.models import Job
from archive.jobs.phases import Phase

from . import personal
from .limits import limits_for
from .models import PersonalTable, quota_of


def _error(exc: ArchiveError) -> JsonResponse:
    return JsonResponse({"error": exc.message}, status=exc.status)


def _describe(table: PersonalTable) -> dict:
    return {
        "name": table.qualified,
        "owner": table.owner.username,
        "rows": table.n_rows,
        "bytes": table.size_bytes,
        "description": table.description,
        "shared_with": sorted(u.username for u in table.shared_with.all()),
        "columns": [c["name"] for c in table.columns],
    }


def _refused(request: HttpRequest) -> HttpResponse | None:
    """None when the request may change tables: signed in, and with a token or a CSRF token
    (a session's form posts need one; a token is no cookie a third site could send)."""
    if not request.user.is_authenticated:
        return JsonResponse({"error": "sign in, or send your API token"}, status=401)
    if request.method != "GET" and not request.META.get("HTTP_AUTHORIZATION"):
        return CsrfViewMiddleware(lambda r: HttpResponse()).process_view(request, None, (), {})
    return None


def job_result(user, job_id: str) -> tuple[bytes, str]:
    job = Job.objects.of_kind(Kind.TAP_QUERY).filter(public_id=job_id, owner=user).first()
    if job is None:
        raise NotFound(f"you have no query job {job_id}")
    if job.phase != Phase.COMPLETED or not job.result_list:
        raise UsageError(f"job {job_id} is {job.phase}: only a finished job's result is saved")
    result = job.result_list[0]
    return (lifecycle.job_dir(job) / result.path).read_bytes(), result.path


def save_posted(request: HttpRequest) -> PersonalTable:
    """The table a POST names (``name``, and a file part ``table`` or a ``job`` id), saved."""
    name = request.POST.get("name", "")
    personal.check_name(name)
    if "table" in request.FILES:
        upload = request.FILES["table"]
        data, filename = upload.read(), upload.name or ""
    elif request.POST.get("job"):
        data, filename = job_result(request.user, request.POST["job"])
    else:
        raise UsageError("send a file as the part 'table', or a finished job's id as 'job'")
    table = personal.read_table(name, data, limits_for(request.user), filename)
    return personal.create(request.user, name, table, request.POST.get("description", ""))


@csrf_exempt
def user_tables(request: HttpRequest) -> HttpResponse:
    refused = _refused(request)
    if refused is not None:
        return refused
    if request.method == "GET":
        tables = [_describe(t) for t in personal.readable(request.user)]
        used, quota = personal.used_bytes(request.user), quota_of(request.user)
        return JsonResponse({"tables": tables, "used_bytes": used, "quota_bytes": quota})
    if request.method != "POST":
        return JsonResponse({"error": "GET or POST"}, status=405)
    try:
        created = save_posted(request)
    except ArchiveError as exc:
        return _error(exc)
    return JsonResponse(_describe(created), status=201)


@csrf_exempt
def user_table(request: HttpRequest, name: str) -> HttpResponse:
    refused = _refused(request)
    if refused is not None:
        return refused
    try:
        if request.method == "DELETE":
            personal.drop(request.user, name)
            return HttpResponse(status=204)
        if request.method == "GET":
            return JsonResponse(_describe(personal.owned(request.user, name)))
    except ArchiveError as exc:
        return _error(exc)
    return JsonResponse({"error": "GET or DELETE"}, status=405)


@csrf_exempt
def share(request: HttpRequest, name: str) -> HttpResponse:
    refused = _refused(request)
    if refused is not None:
        return refused
    if request.method != "POST":
        return JsonResponse({"error": "POST"}, status=405)
    users = [u.strip() for u in request.POST.get("users", "").split(",") if u.strip()]
    revoke = request.POST.get("revoke", "").lower() in ("1", "true", "yes")
    try:
        if not users:
            raise UsageError("name the users to share with in 'users', comma-separated")
        table = personal.share(request.user, name, users, revoke=revoke)
    except ArchiveError as exc:
        return _error(exc)
    return JsonResponse(_describe(table))
