"""Counting failed attempts (API keys, logins) per client address, in Django's cache.

The cache is shared by every web worker when it is Redis (REDIS_URL set); the local-memory
cache of the embedded default counts per process, which is what a single process needs.
Failures are counted per calendar minute: a key per minute, so no clean-up is needed.
"""

import ipaddress

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone


def client_address(request):
    """The caller's IP address, as the trusted proxies in front of Assay saw it.

    With ASSAY_TRUSTED_PROXY_COUNT = 0 that is REMOTE_ADDR. With N proxies each appending the
    address it received from to X-Forwarded-For, the N-th entry from the right is the one the
    first trusted proxy wrote; anything left of it came from the client and may be forged.
    """
    remote = request.META.get("REMOTE_ADDR") or "0.0.0.0"
    proxies = settings.ASSAY_TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if not proxies or not forwarded:
        return remote
    entries = [entry.strip() for entry in forwarded.split(",")]
    candidate = entries[-min(proxies, len(entries))]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        # A proxy that writes something else is misconfigured; the peer is all we know then.
        return remote


class FailureCounter:
    """Failures of one kind (`scope`) per key, e.g. per address, in the current minute."""

    def __init__(self, scope):
        self.scope = scope

    def _cache_key(self, key):
        minute = timezone.now().strftime("%Y%m%d%H%M")
        return f"assay:failures:{self.scope}:{minute}:{key}"

    def count(self, key):
        return cache.get(self._cache_key(key), 0)

    def record(self, key):
        cache_key = self._cache_key(key)
        # add() then incr() keeps concurrent workers from overwriting each other's count.
        cache.add(cache_key, 0, timeout=120)
        try:
            return cache.incr(cache_key)
        except ValueError:  # expired between add() and incr()
            cache.add(cache_key, 1, timeout=120)
            return 1
