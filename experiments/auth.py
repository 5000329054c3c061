"""Token authentication for the experiments API (`Authorization: Bearer <key>`)."""

from django.conf import settings
from ninja.errors import HttpError
from ninja.security import HttpBearer

from core.throttle import FailureCounter, client_address

from .models import ApiToken, TokenRefused

token_failures = FailureCounter("api-token")


class ApiTokenAuth(HttpBearer):
    """Accepts a usable experiment token; failed attempts are limited per client address.

    The key is checked first: a valid key always gets through, so a guesser (or a broken job)
    behind the same NAT or proxy address cannot lock every other job out. Only failures count,
    and past the limit a failure gets 429 instead of 401 until the minute is over.
    """

    def authenticate(self, request, token):
        try:
            return ApiToken.verify(token)
        except TokenRefused as refusal:
            address = client_address(request)
            if token_failures.count(address) >= settings.ASSAY_TOKEN_FAILURES_PER_MINUTE:
                raise HttpError(
                    429, f"Too many failed token attempts from {address}: try again in a minute."
                ) from None
            token_failures.record(address)
            raise HttpError(401, str(refusal)) from None
