"""The query page's "My tables" panel: save an upload or a finished job's result as a personal
table, share it, delete it (archive/tap/personal.py does the work; docs/web.md)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from archive.errors import ArchiveError, UsageError
from archive.tap import personal
from archive.tap.personal_views import save_posted


def _back() -> HttpResponse:
    return redirect(reverse("web:query") + "#my-tables")


@login_required
@require_POST
def save(request: HttpRequest) -> HttpResponse:
    try:
        made = save_posted(request)
    except ArchiveError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Saved {made.qualified} ({made.n_rows} rows)")
    return _back()


@login_required
@require_POST
def share(request: HttpRequest, name: str) -> HttpResponse:
    users = [u.strip() for u in request.POST.get("users", "").split(",") if u.strip()]
    try:
        if not users:
            raise UsageError("name the users to share with, comma-separated")
        personal.share(request.user, name, users, revoke=bool(request.POST.get("revoke")))
    except ArchiveError as exc:
        messages.error(request, exc.message)
    else:
        done = "no longer shared with" if request.POST.get("revoke") else "shared with"
        messages.success(request, f"{name} {done} {', '.join(users)}")
    return _back()


@login_required
@require_POST
def delete(request: HttpRequest, name: str) -> HttpResponse:
    try:
        personal.drop(request.user, name)
    except ArchiveError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Deleted {name}")
    return _back()
