"""``Authorization: Token <key>`` signs a request in as the key's user (pyvo, astroquery)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from .models import ApiToken, digest

SCHEME = "token"


class TokenAuthenticationMiddleware:
    """After AuthenticationMiddleware: a request with a token header is its user's; a wrong
    token is a 401 (never silently anonymous). Token requests carry no cookie, so CSRF, which
    protects cookie sessions, does not apply to them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, key = header.partition(" ")
        if scheme.lower() == SCHEME:
            token = (
                ApiToken.objects.select_related("user")
                .filter(key_digest=digest(key.strip()), user__is_active=True)
                .first()
            )
            if token is None:
                response = HttpResponse(
                    "invalid API token\n", status=401, content_type="text/plain"
                )
                response["WWW-Authenticate"] = 'Token realm="RVS-CNN Archive"'
                return response
            request.user = token.user
            request._dont_enforce_csrf_checks = True
            if token.last_used is None or (timezone.now() - token.last_used).seconds > 60:
                ApiToken.objects.filter(pk=token.pk).update(last_used=timezone.now())
        return self.get_response(request)
