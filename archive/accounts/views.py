"""Sign-up and the API token page."""

from __future__ import annotations

from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from archive.tap.limits import limits_for

from .forms import SignUpForm
from .models import ApiToken


def signup(request: HttpRequest) -> HttpResponse:
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("accounts:profile")
    return render(request, "accounts/signup.html", {"form": form})


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    """The account: limits, the API token (a new key is shown once) and how to use it."""
    key = None
    if request.method == "POST":
        key = ApiToken.issue(request.user)
    token = ApiToken.objects.filter(user=request.user).first()
    return render(
        request,
        "accounts/profile.html",
        {
            "key": key,
            "token": token,
            "limits": limits_for(request.user),
            "tap_url": request.build_absolute_uri("/tap"),
        },
    )
