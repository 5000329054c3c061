"""JSON request bodies read with orjson, several times faster than the standard library on a
thousand-point metrics batch. What orjson refuses but Python's json module reads (NaN and
Infinity literals, integers past 64 bits, lone surrogates) is read by json, so every body
reads, or fails with json's own message, exactly as it did before."""

import json

import orjson
from ninja.parser import Parser


def loads(body):
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return json.loads(body)


class JsonBodyParser(Parser):
    """The API's parser: django-ninja's, with bodies read by loads()."""

    def parse_body(self, request):
        return loads(request.body)
