"""API tokens for training jobs: one experiment each, stored hashed, revocable.

A key is `assay_<prefix>_<secret>`: the prefix finds the row, the SHA-256 of the whole key is
compared in constant time. The secret holds 256 random bits, so a plain SHA-256 is enough
(a slow password hash only helps keys a person can guess) and keeps every request cheap.
"""

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import F
from django.utils import timezone

KEY_PREFIX = "assay"
# last_used_at is written at most this often, so a busy job does not add a write per batch.
LAST_USED_RESOLUTION = timedelta(seconds=60)


def hash_key(key):
    return hashlib.sha256(key.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True)


class ApiToken(models.Model):
    experiment = models.ForeignKey(
        "experiments.Experiment", on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, blank=True, help_text="What uses it, e.g. 'cluster'")
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    read_only = models.BooleanField(
        default=False, help_text="May ask should-stop, may not report runs"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"{self.experiment.key} {self.prefix}"

    @classmethod
    def issue(cls, experiment, *, name="", read_only=False, created_by=None):
        """Create a token; returns (token, key). The key exists only in this return value."""
        prefix = secrets.token_hex(6)
        key = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
        token = cls.objects.create(
            experiment=experiment,
            name=name,
            prefix=prefix,
            key_hash=hash_key(key),
            read_only=read_only,
            created_by=created_by,
        )
        return token, key

    @classmethod
    def authenticate(cls, key):
        """The active token with this key, else None; records when it was last used."""
        parts = key.split("_")
        if len(parts) < 3 or parts[0] != KEY_PREFIX:
            return None
        token = cls.objects.active().select_related("experiment").filter(prefix=parts[1]).first()
        if token is None or not hmac.compare_digest(token.key_hash, hash_key(key)):
            return None
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            cls.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now
        return token

    @property
    def is_active(self):
        return self.revoked_at is None

    def revoke(self):
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])


class TokenFailureQuerySet(models.QuerySet):
    def failures_this_minute(self, ip):
        row = self.filter(ip=ip, minute=_this_minute()).first()
        return row.failures if row else 0


def _this_minute():
    return timezone.now().replace(second=0, microsecond=0)


class TokenFailure(models.Model):
    """Failed token attempts per client address and minute.

    In the database rather than the cache: every gunicorn worker must see the same count.
    """

    ip = models.GenericIPAddressField()
    minute = models.DateTimeField()
    failures = models.PositiveIntegerField(default=0)

    objects = TokenFailureQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["ip", "minute"], name="tokenfailure_ip_minute")
        ]

    def __str__(self):
        return f"{self.ip} {self.minute:%H:%M} {self.failures}"

    @classmethod
    def record(cls, ip):
        minute = _this_minute()
        cls.objects.bulk_create([cls(ip=ip, minute=minute)], ignore_conflicts=True)
        cls.objects.filter(ip=ip, minute=minute).update(failures=F("failures") + 1)
        # Old windows are useless; dropping them here keeps the table at a few rows per address.
        cls.objects.filter(ip=ip, minute__lt=minute - timedelta(minutes=5)).delete()
