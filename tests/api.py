"""A client for the training-job API (/api/v1/experiments), holding one token."""

import json

BASE = "/api/v1/experiments"


class Api:
    """api.post(path, body) and api.get(path), `path` below BASE; `raw=True` posts `body` as it
    is (a string), for bodies json.dumps would not write."""

    def __init__(self, client, key):
        self.client, self.key = client, key

    def headers(self):
        return {"HTTP_AUTHORIZATION": f"Bearer {self.key}"}

    def post(self, path, body, raw=False):
        data = body if raw else json.dumps(body)
        return self.client.post(
            f"{BASE}{path}", data=data, content_type="application/json", **self.headers()
        )

    def get(self, path):
        return self.client.get(f"{BASE}{path}", **self.headers())
