"""Bodies the API's schemas would misread are refused at its door, with a 422 that says why.

A JSON body must be an object: ninja reads a schema's fields off whatever it is given, so an
array or a number would otherwise pass as a body with every field missing or at its default.

Text the database cannot store is refused too, naming the field. PostgreSQL rejects the NUL
character (U+0000) in text and JSON columns, so a request carrying one would otherwise fail
deep inside an insert with a 500. JSON can only carry NUL as the escape `\\u0000`, so bodies
without that byte sequence pass untouched (the metrics hot path pays one substring search).

A body nested too deeply for Python's JSON decoder (a hundred thousand `[`) is refused with a
400 rather than raising RecursionError out of this middleware as a 500.
"""

import json

from django.http import JsonResponse

MESSAGE = "NUL characters (\\u0000) are not allowed"


def _nul_paths(value, path=()):
    if isinstance(value, str):
        if "\x00" in value:
            yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                yield (*path, key)
            yield from _nul_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nul_paths(item, (*path, index))


NOT_AN_OBJECT = "The body must be a JSON object ({...})."
TOO_DEEP = "The body is nested too deeply to read."


class _TooDeep(Exception):  # noqa: N818 - control flow, never escapes this module
    pass


_NOT_JSON = object()


def _loads(body):
    """The decoded body, or _NOT_JSON when it is malformed (the API answers that itself)."""
    try:
        return json.loads(body)
    except ValueError:
        return _NOT_JSON
    except RecursionError:
        raise _TooDeep from None


def _refusal(fields):
    errors = [{"field": field or None, "message": MESSAGE} for field in fields]
    detail = "; ".join(f"{field}: {MESSAGE}" if field else MESSAGE for field in fields)
    return JsonResponse({"detail": detail, "errors": errors}, status=422)


class ApiInputMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/"):
            try:
                refusal = self._check(request)
            except _TooDeep:
                errors = [{"field": "body", "message": TOO_DEEP}]
                refusal = JsonResponse({"detail": TOO_DEEP, "errors": errors}, status=400)
            if refusal:
                return refusal
        return self.get_response(request)

    def _check(self, request):
        has_body = request.method in ("POST", "PUT", "PATCH")
        # ninja parses a body as JSON whatever its content type says. Only a body that does
        # not start with "{" is parsed here, so the metrics hot path pays one byte's look.
        if (
            has_body
            and request.body.lstrip()[:1] not in (b"", b"{")
            and _loads(request.body) is not _NOT_JSON
        ):
            errors = [{"field": "body", "message": NOT_AN_OBJECT}]
            return JsonResponse({"detail": NOT_AN_OBJECT, "errors": errors}, status=422)
        fields = [
            name or "query string"
            for name, values in request.GET.lists()
            if "\x00" in name or any("\x00" in value for value in values)
        ]
        if has_body and b"\\u0000" in request.body:
            data = _loads(request.body)
            if data is _NOT_JSON:
                return None  # malformed JSON: the API answers that itself
            try:
                fields += [".".join(str(part) for part in path) for path in _nul_paths(data)]
            except RecursionError:
                raise _TooDeep from None
        return _refusal(fields) if fields else None
