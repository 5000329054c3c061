import logging

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import RequestDataTooBig
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.views import defaults as django_defaults

from .throttle import FailureCounter, client_address

logger = logging.getLogger(__name__)
login_failures = FailureCounter("login")


def home(request):
    return TemplateResponse(request, "core/home.html", {})


@login_not_required
def healthz(request):
    """Liveness and database reachability, for load balancers and process supervisors."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        database = "ok"
    except Exception as error:  # noqa: BLE001 - report any database failure as unhealthy
        logger.error("healthz: database unreachable: %s", error)
        # The error text names hosts, users and ports: only staff see it, everyone else "error".
        shown = str(error) if getattr(request.user, "is_staff", False) else "error"
        return JsonResponse({"status": "error", "database": shown}, status=503)
    return JsonResponse({"status": "ok", "database": database})


class LoginView(auth_views.LoginView):
    """Django's login, with failed attempts limited per client address and username.

    Counting per username as well as per address keeps a guesser from locking a colleague
    out everywhere, and colleagues behind one NAT from locking each other out.
    """

    def post(self, request, *args, **kwargs):
        if login_failures.count(self._throttle_key()) >= settings.ASSAY_LOGIN_FAILURES_PER_MINUTE:
            # Refused without checking the password (an unbound form is never validated), or
            # guessing would simply go on.
            unbound = self.get_form_class()(
                request, initial={"username": request.POST.get("username")}
            )
            context = self.get_context_data(
                form=unbound,
                throttled="Too many failed logins for this username from your address: "
                "wait a minute, then try again.",
            )
            return self.render_to_response(context, status=429)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        login_failures.record(self._throttle_key())
        return super().form_invalid(form)

    def _throttle_key(self):
        username = self.request.POST.get("username", "")[:150].strip().lower()
        return f"{client_address(self.request)}:{username}"


# Errors raised before a request reaches the API's own handlers (an unmatched URL, a body over
# the size limit) would otherwise get Django's HTML pages; API clients get JSON with a message.


def _is_api(request):
    return request.path.startswith("/api/")


def bad_request(request, exception=None):
    if isinstance(exception, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        message = f"The request body is larger than the limit of {limit} bytes."
        if _is_api(request):
            return JsonResponse({"detail": message}, status=413)
        return HttpResponse(message, status=413, content_type="text/plain")
    if _is_api(request):
        return JsonResponse({"detail": "Bad request: the request could not be read."}, status=400)
    return django_defaults.bad_request(request, exception)


def permission_denied(request, exception=None):
    if _is_api(request):
        return JsonResponse({"detail": str(exception) or "Permission denied."}, status=403)
    return django_defaults.permission_denied(request, exception)


def page_not_found(request, exception=None):
    if _is_api(request):
        return JsonResponse({"detail": f"No API endpoint at {request.path}."}, status=404)
    return django_defaults.page_not_found(request, exception)


def server_error(request):
    if _is_api(request):
        return JsonResponse({"detail": "Internal server error; it has been logged."}, status=500)
    return django_defaults.server_error(request)
