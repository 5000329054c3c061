"""Token authentication for the experiments API (`Authorization: Bearer <key>`)."""

from django.conf import settings
from ninja.errors import HttpError
from ninja.security import HttpBearer

from .models import ApiToken, TokenFailure


class ApiTokenAuth(HttpBearer):
    """Accepts an active experiment token; failed attempts are limited per client address.

    Over the limit every attempt from the address gets 429, valid key or not, so that a
    guesser learns nothing more until the minute is over.
    """

    def authenticate(self, request, token):
        address = request.META.get("REMOTE_ADDR") or "0.0.0.0"
        limit = settings.ASSAY_TOKEN_FAILURES_PER_MINUTE
        if TokenFailure.objects.failures_this_minute(address) >= limit:
            raise HttpError(
                429, f"Too many failed token attempts from {address}: try again in a minute."
            )
        api_token = ApiToken.authenticate(token)
        if api_token is None:
            TokenFailure.record(address)
        return api_token
