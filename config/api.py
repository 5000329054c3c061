"""The REST API under /api/v1/: one router per app, OpenAPI served at /api/v1/openapi.json."""

from django.core.exceptions import PermissionDenied, ValidationError
from ninja import NinjaAPI
from ninja.errors import AuthenticationError
from ninja.errors import ValidationError as NinjaValidationError

from core.json_body import JsonBodyParser
from experiments.api import router as experiments_router
from experiments.models.evidence import TooManyMetrics
from papers.api import router as papers_router
from radar.api import router as radar_router

api = NinjaAPI(
    title="Assay API",
    version="1",
    description="Runs, metrics and artifacts from training jobs; radar and papers for scripts.",
    urls_namespace="api",
    parser=JsonBodyParser(),
)


def _field_errors(error):
    if hasattr(error, "message_dict"):
        return [
            {"field": field, "message": message}
            for field, messages in error.message_dict.items()
            for message in messages
        ]
    return [{"field": None, "message": message} for message in error.messages]


@api.exception_handler(ValidationError)
def model_validation_error(request, error):
    errors = _field_errors(error)
    detail = "; ".join(
        f"{item['field']}: {item['message']}"
        if item["field"] and item["field"] != "__all__"
        else item["message"]
        for item in errors
    )
    return api.create_response(request, {"detail": detail, "errors": errors}, status=400)


@api.exception_handler(TooManyMetrics)
def too_many_metrics(request, error):
    # Not a 400 like other model rules: the body is well-formed, its content is over a limit.
    message = " ".join(error.messages)
    errors = [{"field": field, "message": message} for field in error.fields] or [
        {"field": None, "message": message}
    ]
    return api.create_response(request, {"detail": message, "errors": errors}, status=422)


@api.exception_handler(NinjaValidationError)
def request_validation_error(request, error):
    errors = []
    for item in error.errors:
        loc = list(item.get("loc", ()))
        if loc[:1] == ["body"]:
            # ("body", "<view parameter>", "points", 2, "key"): the parameter name means
            # nothing to a client, the path inside the body does.
            loc = loc[2:] or ["body"]
        location = ".".join(str(part) for part in loc)
        errors.append({"field": location or None, "message": item.get("msg", "invalid value")})
    detail = "; ".join(
        f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in errors
    )
    return api.create_response(request, {"detail": detail, "errors": errors}, status=422)


@api.exception_handler(PermissionDenied)
def permission_denied(request, error):
    return api.create_response(
        request, {"detail": str(error) or "You do not have permission for this."}, status=403
    )


@api.exception_handler(AuthenticationError)
def authentication_error(request, error):
    return api.create_response(
        request, {"detail": "Authentication required: send a valid token."}, status=401
    )


api.add_router("/radar/", radar_router)
api.add_router("/papers/", papers_router)
api.add_router("/experiments/", experiments_router)
