"""API tokens for training jobs: one experiment each, stored hashed, revocable.

A key is `assay_<prefix>_<secret>`: the prefix finds the row, the SHA-256 of the whole key is
compared in constant time. The secret holds 256 random bits, so a plain SHA-256 is enough
(a slow password hash only helps keys a person can guess) and keeps every request cheap.
"""

import hashlib
import hmac
import secrets
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from core.rows import RelatedRowQuery

KEY_PREFIX = "assay"
# last_used_at is written at most this often, so a busy job does not add a write per batch.
LAST_USED_RESOLUTION = timedelta(seconds=60)


def expiry_from_date(text):
    """The expiry for "valid through this date" (YYYY-MM-DD): the end of that day in the
    current time zone. Empty text means no expiry; a bad or past date raises ValueError."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"Expiry date {text!r} is not a date of the form YYYY-MM-DD.") from None
    if day < timezone.localdate():
        raise ValueError(f"Expiry date {day} is in the past.")
    return timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))


def hash_key(key):
    return hashlib.sha256(key.encode()).hexdigest()


class TokenRefused(Exception):
    """The key matched no usable token; the message says why, for the job's log."""


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
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Refused from this time on; empty: never expires"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"{self.experiment.key} {self.prefix}"

    @classmethod
    def issue(cls, experiment, *, name="", read_only=False, created_by=None, expires_at=None):
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
            expires_at=expires_at,
        )
        return token, key

    @classmethod
    def authenticate(cls, key):
        """The usable token with this key, else None; records when it was last used."""
        try:
            return cls.verify(key)
        except TokenRefused:
            return None

    @classmethod
    def verify(cls, key):
        """The usable token with this key; raises TokenRefused saying why there is none.

        Only a caller holding the whole key learns that it was revoked or expired: a key whose
        hash does not match gets the same answer as one that never existed.
        """
        parts = key.split("_")
        token = None
        if len(parts) >= 3 and parts[0] == KEY_PREFIX:
            token = _with_prefix.get(parts[1])
        if token is None or not hmac.compare_digest(token.key_hash, hash_key(key)):
            raise TokenRefused("Unknown API token: check ASSAY_TOKEN (a key starts with assay_).")
        now = timezone.now()
        if token.revoked_at is not None:
            raise TokenRefused(f"This API token was revoked on {token.revoked_at:%Y-%m-%d %H:%M}.")
        if token.expires_at is not None and token.expires_at <= now:
            raise TokenRefused(f"This API token expired on {token.expires_at:%Y-%m-%d %H:%M}.")
        creator = token.created_by
        if creator is not None and not creator.is_active:
            # A person who left must not keep reporting through keys they made.
            raise TokenRefused(
                f"This API token's creator ({creator.get_username()}) is deactivated: "
                "ask the experiment's owner or a Lead for a new token."
            )
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            cls.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now
        return token

    def refusal_for(self, experiment_key, *, write, closed_ok=False):
        """(status, message) when this token may not make this request, else None.

        A token problem is a 403; a write to a closed experiment is a 409, so that a job
        drops that write and keeps asking should-stop instead of taking its token for bad.
        `closed_ok` lets a write through on a closed experiment (the caller then decides).
        """
        experiment = self.experiment
        if experiment.key != experiment_key:
            return 403, (
                f"This token belongs to {experiment.key}: it may not be used for {experiment_key}."
            )
        if not write:
            return None
        if self.read_only:
            return 403, (
                "This token is read-only: it may read runs and ask should-stop, "
                "not create runs or report metrics."
            )
        if not experiment.is_active and not closed_ok:
            return 409, experiment.closed_message()
        return None

    @property
    def is_active(self):
        return self.revoked_at is None and not self.is_expired

    @property
    def is_expired(self):
        return self.expires_at is not None and self.expires_at <= timezone.now()

    def revoke(self):
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])


# Every API request looks its token up: the query is written once (core/rows.py).
_with_prefix = RelatedRowQuery(ApiToken, ["experiment", "created_by"], where="prefix")
