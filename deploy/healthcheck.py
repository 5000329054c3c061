#!/usr/bin/env python3
"""Container health check: GET /healthz on this machine, exit 0 when Assay answers 200.

It sends a Host header the site allows (the first entry of ALLOWED_HOSTS), because Django
refuses any other host with 400: a check that asked for 127.0.0.1 would call a healthy
production server (ALLOWED_HOSTS=assay.example.org) unhealthy.
"""

import os
import sys
import urllib.request

DEFAULT_URL = "http://127.0.0.1:8000/healthz"


def host_header(allowed_hosts):
    for host in allowed_hosts.split(","):
        host = host.strip()
        if host and host != "*":
            return host.lstrip(".")  # ".example.org" also allows example.org itself
    return "localhost"


def main(argv):
    url = argv[1] if len(argv) > 1 else DEFAULT_URL
    request = urllib.request.Request(
        url, headers={"Host": host_header(os.environ.get("ALLOWED_HOSTS", "localhost"))}
    )
    try:
        with urllib.request.urlopen(request, timeout=4) as response:
            return 0 if response.status == 200 else 1
    except OSError as error:  # refused, timed out, or an HTTP error status
        print(f"unhealthy: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
