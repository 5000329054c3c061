from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import JsonResponse
from django.template.response import TemplateResponse


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
        return JsonResponse({"status": "error", "database": str(error)}, status=503)
    return JsonResponse({"status": "ok", "database": database})
