"""The research radar: quadrants, techniques (blips), their ring moves, reviews and nominations.

Quadrants are rows a team renames and reorders. Rings are fixed choices because the rules
hang on them (TRIAL needs an owner and a dated next action; HOLD and SKIP need a specific
reason). A technique's ring only changes through `Technique.move_to`, which writes a
`RingMove`; moves are append-only, so the radar as of any date can be rebuilt from them.
"""

import datetime
import hashlib

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models, transaction
from django.db.models import F, OuterRef, Q, Subquery
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify


class Ring(models.TextChoices):
    ADOPT = "adopt", "Adopt"
    TRIAL = "trial", "Trial"
    ASSESS = "assess", "Assess"
    HOLD = "hold", "Hold"
    SKIP = "skip", "Skip"


# Rings drawn as circles, innermost first; SKIP is drawn apart from the circles.
DRAWN_RINGS = (Ring.ADOPT, Ring.TRIAL, Ring.ASSESS, Ring.HOLD)
RING_ORDER = {ring: index for index, ring in enumerate(Ring)}
ACTIVE_RINGS = (Ring.ADOPT, Ring.TRIAL, Ring.ASSESS)
OWNED_RINGS = (Ring.TRIAL, Ring.ASSESS)
PARKED_RINGS = (Ring.HOLD, Ring.SKIP)


class PortfolioBucket(models.TextChoices):
    CORE = "core", "Core"
    ADJACENCY = "adjacency", "Adjacency"
    EXPLORATORY = "exploratory", "Exploratory"


# Target share of research effort per bucket, in percent (low, high).
PORTFOLIO_TARGETS = {
    PortfolioBucket.CORE: (60, 70),
    PortfolioBucket.ADJACENCY: (20, 30),
    PortfolioBucket.EXPLORATORY: (5, 10),
}


def validate_links(links, field="evidence_links"):
    """Raise ValidationError unless `links` is a list of http(s) URLs."""
    validator = URLValidator(schemes=["http", "https"])
    if not isinstance(links, list):
        raise ValidationError({field: "Give a list of links."})
    for link in links:
        try:
            validator(link)
        except ValidationError:
            raise ValidationError({field: f"Not an http(s) link: {link!r}"}) from None


def end_of_day(day):
    """The first instant after `day` in the current time zone: "as of" a date includes it."""
    return timezone.make_aware(
        datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time())
    )


class Quadrant(models.Model):
    """A sector of the radar. Data, not code: rename, reorder, add as many as the team uses."""

    name = models.CharField(max_length=100, unique=True)
    order = models.PositiveSmallIntegerField(default=0, help_text="Drawn clockwise from the top.")

    class Meta:
        ordering = ["order", "name"]

    def __str__(self):
        return self.name


class Tag(models.Model):
    name = models.CharField(max_length=50, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class TechniqueQuerySet(models.QuerySet):
    def active(self):
        """On the radar and being used or worked on: ADOPT, TRIAL, ASSESS."""
        return self.filter(ring__in=ACTIVE_RINGS)

    def in_ring(self, *rings):
        return self.filter(ring__in=rings)

    def owned_by(self, user):
        return self.filter(owner=user)

    def in_quadrant(self, quadrant):
        return self.filter(quadrant=quadrant)

    def tagged(self, tag_name):
        return self.filter(tags__name=tag_name)

    def next_action_due_by(self, day):
        return self.filter(next_action_due__isnull=False, next_action_due__lte=day)

    def stale(self, days=None, today=None):
        """Active techniques needing attention: a TRIAL/ASSESS without owner, an overdue
        next action, or no change for `days` days (default settings.ASSAY_RADAR_STALE_DAYS)."""
        days = days or settings.ASSAY_RADAR_STALE_DAYS
        today = today or timezone.localdate()
        untouched_since = end_of_day(today - datetime.timedelta(days=days))
        return self.active().filter(
            Q(ring__in=OWNED_RINGS, owner__isnull=True)
            | Q(next_action_due__lt=today)
            | Q(updated_at__lt=untouched_since)
        )

    def for_radar(self):
        return self.select_related("quadrant", "owner").prefetch_related("tags")

    def as_of(self, moment=None, baseline=None):
        """Techniques on the radar at `moment` (None: now) with their ring then as
        `shown_ring`; with a `baseline` moment also `baseline_ring` (None: not yet added)."""
        if moment is None:
            techniques = self.annotate(shown_ring=F("ring"))
        else:
            techniques = self.with_ring_at(moment, "shown_ring").filter(shown_ring__isnull=False)
        if baseline is not None:
            techniques = techniques.with_ring_at(baseline, "baseline_ring")
        return techniques

    def with_ring_at(self, moment, name="ring_then"):
        """Annotate the ring each technique was in just before `moment` (None: not yet there)."""
        last_move = (
            RingMove.objects.filter(technique=OuterRef("pk"), moved_at__lt=moment)
            .order_by("-moved_at", "-pk")
            .values("to_ring")[:1]
        )
        return self.annotate(**{name: Subquery(last_move)})


class Technique(models.Model):
    """A blip on the radar."""

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=200, unique=True)
    quadrant = models.ForeignKey(Quadrant, on_delete=models.PROTECT, related_name="techniques")
    ring = models.CharField(max_length=10, choices=Ring, default=Ring.ASSESS)
    description = models.TextField(blank=True, help_text="Markdown.")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_techniques",
    )
    next_action = models.CharField(max_length=300, blank=True)
    next_action_due = models.DateField(null=True, blank=True)
    portfolio_bucket = models.CharField(
        max_length=20, choices=PortfolioBucket, default=PortfolioBucket.CORE
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="techniques")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TechniqueQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        permissions = [("move_technique", "Can move a technique between rings")]
        constraints = [
            models.CheckConstraint(condition=Q(ring__in=Ring.values), name="technique_ring_valid"),
            models.CheckConstraint(
                condition=~Q(ring__in=OWNED_RINGS) | Q(owner__isnull=False),
                name="technique_trial_assess_have_owner",
            ),
            models.CheckConstraint(
                condition=~Q(ring=Ring.TRIAL)
                | (~Q(next_action="") & Q(next_action_due__isnull=False)),
                name="technique_trial_has_dated_next_action",
            ),
        ]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        # The rules hold however a technique is saved (forms, API, import, shell); the
        # database constraints back them up for bulk updates.
        if not self.slug and self.name:
            self.slug = slugify(self.name)[:200]
        if errors := self.rule_errors():
            raise ValidationError(errors)
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("radar:technique_detail", args=[self.slug])

    def rule_errors(self):
        """The radar's rules this technique breaks, as {field: message}."""
        errors = {}
        if self.ring in OWNED_RINGS and not self.owner_id:
            errors["owner"] = f"A technique in {self.get_ring_display()} needs an owner."
        if self.ring == Ring.TRIAL:
            if not self.next_action.strip():
                errors["next_action"] = "A technique in Trial needs a next action."
            if not self.next_action_due:
                errors["next_action_due"] = (
                    "A technique in Trial needs a due date for its next action."
                )
        return errors

    def clean(self):
        if not self.slug and self.name:
            self.slug = slugify(self.name)[:200]
        if errors := self.rule_errors():
            raise ValidationError(errors)

    def move_to(
        self,
        ring,
        *,
        by,
        reason,
        review=None,
        superseded_by=None,
        failed_constraint="",
        evidence_links=(),
        owner=None,
        next_action=None,
        next_action_due=None,
        at=None,
    ):
        """Move this technique to `ring`, recording who, why and the evidence. Returns the RingMove.

        Raises ValidationError (keyed by field) when a rule is broken: no reason, a HOLD or
        SKIP without superseded_by or failed_constraint, a TRIAL/ASSESS without owner, a TRIAL
        without a dated next action. `owner` and `next_action`/`next_action_due`, when given,
        are set in the same step so that a move can satisfy the rules it needs; `at` dates a
        decision taken earlier (default: now). Also puts a new (unsaved) technique on the
        radar. Checks no permission: callers check `radar.move_technique`.
        """
        move = RingMove(
            technique=self,
            from_ring=self.ring if self.pk else "",
            to_ring=ring,
            moved_by=by,
            moved_at=at or timezone.now(),
            reason=(reason or "").strip(),
            review=review,
            superseded_by=superseded_by,
            failed_constraint=(failed_constraint or "").strip(),
            evidence_links=list(evidence_links),
        )
        errors = move.rule_errors()
        if self.pk and ring == self.ring:
            errors["to_ring"] = f"{self.name} is already in {self.get_ring_display()}."
        before = (self.ring, self.owner, self.next_action, self.next_action_due)
        if owner is not None:
            self.owner = owner
        if next_action is not None:
            self.next_action = next_action.strip()
        if next_action_due is not None:
            self.next_action_due = next_action_due
        if ring in Ring.values:
            self.ring = ring
            for field, message in self.rule_errors().items():
                errors.setdefault(field, message)
        if errors:
            # A refused move leaves the object as it was.
            self.ring, self.owner, self.next_action, self.next_action_due = before
            raise ValidationError(errors)
        with transaction.atomic():
            if self.pk:
                # Locked and re-read: a move decided on a ring someone has just changed would
                # record a stale "from" ring, and both Leads' moves would pass.
                current = (
                    Technique.objects.select_for_update().values_list("ring", flat=True)
                ).get(pk=self.pk)
                if current != move.from_ring:
                    self.ring, self.owner, self.next_action, self.next_action_due = before
                    label = Ring(current).label if current in Ring.values else current
                    raise ValidationError(
                        {"to_ring": f"{self.name} was just moved to {label} by someone else: "
                         "reload the page and decide again."}
                    )  # fmt: skip
            self.save()
            move.technique = self
            move.save()
        return move

    def reassign(self, *, by, owner, next_action, next_action_due, review=None, reason=""):
        """Change the owner and next action without moving the technique.

        Recorded as a TechniqueChange (old -> new per field) on the technique's history;
        the ring's rules still hold (TRIAL keeps an owner and a dated next action). Returns
        the change, or None when nothing differs. Checks no permission: callers check
        `radar.move_technique`.
        """
        wanted = {
            "owner": owner,
            "next_action": (next_action or "").strip(),
            "next_action_due": next_action_due,
        }
        before = {name: getattr(self, name) for name in wanted}
        changes = {
            name: [_describe(before[name]), _describe(value)]
            for name, value in wanted.items()
            if value != before[name]
        }
        if not changes:
            return None
        for name, value in wanted.items():
            setattr(self, name, value)
        if errors := self.rule_errors():
            for name, value in before.items():
                setattr(self, name, value)
            raise ValidationError(errors)
        with transaction.atomic():
            self.save()
            return TechniqueChange.objects.create(
                technique=self,
                changed_by=by,
                review=review,
                changes=changes,
                reason=(reason or "").strip(),
            )

    @property
    def is_active(self):
        return self.ring in ACTIVE_RINGS

    def stale_reasons(self, days=None, today=None):
        """Why this technique counts as stale (empty when it does not); no queries."""
        if not self.is_active:
            return []
        days = days or settings.ASSAY_RADAR_STALE_DAYS
        today = today or timezone.localdate()
        reasons = []
        if self.ring in OWNED_RINGS and not self.owner_id:
            reasons.append("no owner")
        if self.next_action_due and self.next_action_due < today:
            reasons.append(f"next action overdue since {self.next_action_due:%Y-%m-%d}")
        if self.updated_at and self.updated_at < end_of_day(today - datetime.timedelta(days=days)):
            reasons.append(
                f"untouched for {(today - timezone.localdate(self.updated_at)).days} days"
            )
        return reasons

    def position_seed(self):
        """Two numbers in [0, 1) fixed by the slug: where the blip sits in its cell."""
        digest = hashlib.sha256(self.slug.encode()).digest()
        return (
            int.from_bytes(digest[:4], "big") / 2**32,
            int.from_bytes(digest[4:8], "big") / 2**32,
        )


class RingMoveQuerySet(models.QuerySet):
    # Moves are the radar's history: nothing may rewrite them, not even bulk updates.
    def update(self, **kwargs):
        raise ValidationError("Ring moves are never edited.")

    def delete(self):
        raise ValidationError("Ring moves are never deleted.")

    def between(self, since, until):
        """Moves at or after `since` (None: from the beginning) and before `until`."""
        moves = self.filter(moved_at__lt=until)
        return moves.filter(moved_at__gte=since) if since else moves


class RingMove(models.Model):
    """One ring change of a technique (or its entry onto the radar). Never edited or deleted."""

    technique = models.ForeignKey(Technique, on_delete=models.PROTECT, related_name="moves")
    from_ring = models.CharField(
        max_length=10, choices=Ring, blank=True, help_text="Empty: the technique was added."
    )
    to_ring = models.CharField(max_length=10, choices=Ring)
    moved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="ring_moves"
    )
    moved_at = models.DateTimeField(default=timezone.now, db_index=True)
    reason = models.TextField()
    superseded_by = models.ForeignKey(
        Technique,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="supersedes_moves",
        help_text="For HOLD/SKIP: the technique that replaces this one.",
    )
    failed_constraint = models.CharField(
        max_length=300,
        blank=True,
        help_text="For HOLD/SKIP: which of our constraints it fails.",
    )
    evidence_links = models.JSONField(default=list, blank=True)
    review = models.ForeignKey(
        "Review", null=True, blank=True, on_delete=models.PROTECT, related_name="moves"
    )

    objects = RingMoveQuerySet.as_manager()

    class Meta:
        ordering = ["moved_at", "pk"]
        get_latest_by = ["moved_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=~Q(reason=""), name="ringmove_has_reason"),
            models.CheckConstraint(
                condition=~Q(to_ring__in=PARKED_RINGS)
                | Q(superseded_by__isnull=False)
                | ~Q(failed_constraint=""),
                name="ringmove_hold_skip_specific_reason",
            ),
        ]

    def __str__(self):
        return f"{self.technique}: {self.from_ring or 'new'} → {self.to_ring}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValidationError("Ring moves are never edited.")
        self.clean()
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError("Ring moves are never deleted.")

    @property
    def is_entry(self):
        return not self.from_ring

    def rule_errors(self):
        errors = {}
        if self.to_ring not in Ring.values:
            errors["to_ring"] = f"Unknown ring {self.to_ring!r}."
        if not self.reason.strip():
            errors["reason"] = "Say why the technique moves."
        if self.to_ring in PARKED_RINGS and not (self.superseded_by_id or self.failed_constraint):
            errors["failed_constraint"] = (
                f"A move to {Ring(self.to_ring).label} needs a specific reason: the technique "
                "that supersedes it, or the constraint it fails."
            )
        if self.superseded_by_id and self.superseded_by_id == self.technique_id:
            errors["superseded_by"] = "A technique cannot supersede itself."
        try:
            validate_links(self.evidence_links)
        except ValidationError as error:
            errors.update({k: v[0] for k, v in error.message_dict.items()})
        return errors

    def clean(self):
        if errors := self.rule_errors():
            raise ValidationError(errors)


class ReviewQuerySet(models.QuerySet):
    def held_by(self, day):
        return self.filter(held_on__lte=day)


class Review(models.Model):
    """A monthly research review. Its agenda builds itself from the radar and experiments."""

    held_on = models.DateField(unique=True)
    attendees = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    notes = models.TextField(blank=True, help_text="Markdown.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ReviewQuerySet.as_manager()

    class Meta:
        ordering = ["-held_on"]

    def __str__(self):
        return f"Review of {self.held_on:%Y-%m-%d}"

    def get_absolute_url(self):
        return reverse("review:review_detail", args=[self.pk])

    @property
    def covers_until(self):
        return end_of_day(self.held_on)

    def previous(self):
        return Review.objects.filter(held_on__lt=self.held_on).order_by("-held_on").first()

    def record_minutes(self, *, by, notes, attendees):
        """Change the notes and attendees (after the meeting too), kept as a ReviewEdit with
        the old and new values. Returns the edit, or None when nothing differs."""
        notes = (notes or "").strip()
        old_people = sorted(person.get_username() for person in self.attendees.all())
        new_people = sorted(person.get_username() for person in attendees)
        changes = {}
        if notes != self.notes.strip():
            changes["notes"] = [self.notes, notes]
        if old_people != new_people:
            changes["attendees"] = [old_people, new_people]
        if not changes:
            return None
        with transaction.atomic():
            self.notes = notes
            self.save(update_fields=["notes"])
            self.attendees.set(attendees)
            return ReviewEdit.objects.create(review=self, edited_by=by, changes=changes)

    @classmethod
    def last_before(cls, day):
        """The latest review held on or before `day`, or None."""
        return cls.objects.held_by(day).order_by("-held_on").first()


class NominationQuerySet(models.QuerySet):
    def pending(self):
        return self.filter(status=Nomination.Status.PENDING)


class Nomination(models.Model):
    """A member's proposal to put a technique on the radar, decided at a review."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"

    name = models.CharField(max_length=200)
    quadrant = models.ForeignKey(Quadrant, on_delete=models.PROTECT, related_name="nominations")
    reason = models.TextField(help_text="Why the team should look at it.")
    links = models.JSONField(default=list, blank=True)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="nominations"
    )
    proposed_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=10, choices=Status, default=Status.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    review = models.ForeignKey(
        Review, null=True, blank=True, on_delete=models.PROTECT, related_name="nominations"
    )
    technique = models.OneToOneField(
        Technique, null=True, blank=True, on_delete=models.PROTECT, related_name="nomination"
    )

    objects = NominationQuerySet.as_manager()

    class Meta:
        ordering = ["-proposed_at"]
        permissions = [("decide_nomination", "Can accept or decline a nomination")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="pending") | ~Q(decision_reason=""),
                name="nomination_decision_has_reason",
            ),
            models.CheckConstraint(
                condition=~Q(status="accepted") | Q(technique__isnull=False),
                name="nomination_accepted_has_technique",
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def is_pending(self):
        return self.status == self.Status.PENDING

    def clean(self):
        errors = {}
        if not self.name.strip():
            errors["name"] = "Name the technique."
        if not self.reason.strip():
            errors["reason"] = "Say why the team should look at it."
        try:
            validate_links(self.links, field="links")
        except ValidationError as error:
            errors.update({k: v[0] for k, v in error.message_dict.items()})
        if errors:
            raise ValidationError(errors)

    def _lock_pending(self):
        """Lock this nomination's row, re-read it and check it is still undecided.

        Two Leads deciding at once then run one after the other, and the second is told;
        without it, an accept and a decline could both pass and leave an orphan technique.
        """
        if self.pk:
            self.refresh_from_db(from_queryset=Nomination.objects.select_for_update())
        self._check_pending()

    def _check_pending(self):
        if not self.is_pending:
            raise ValidationError(
                f"The nomination of {self.name} was already {self.get_status_display().lower()}."
            )

    def accept(
        self,
        ring,
        *,
        by,
        reason,
        review=None,
        owner=None,
        next_action="",
        next_action_due=None,
        portfolio_bucket=PortfolioBucket.CORE,
        failed_constraint="",
    ):
        """Put the nominated technique on the radar in `ring`. Returns the new Technique.

        Creates the technique and its first RingMove (linked to `review`); raises
        ValidationError keyed by field when a rule is broken or the name is taken.
        """
        with transaction.atomic():
            self._lock_pending()
            if Technique.objects.filter(
                Q(name__iexact=self.name) | Q(slug=slugify(self.name)[:200])
            ).exists():
                raise ValidationError(
                    {"name": f"A technique named {self.name} is already on the radar."}
                )
            technique = Technique(
                name=self.name,
                quadrant=self.quadrant,
                description=self.reason,
                portfolio_bucket=portfolio_bucket,
            )
            technique.move_to(
                ring,
                by=by,
                reason=reason,
                review=review,
                failed_constraint=failed_constraint,
                evidence_links=self.links,
                owner=owner,
                next_action=next_action,
                next_action_due=next_action_due,
            )
            self.status = self.Status.ACCEPTED
            self.technique = technique
            self._decide(by=by, reason=reason, review=review)
        return technique

    def decline(self, *, by, reason, review=None):
        """Decline the nomination, with the reason the team will read later."""
        if not (reason or "").strip():
            raise ValidationError({"decision_reason": "Say why the review declines it."})
        with transaction.atomic():
            self._lock_pending()
            self.status = self.Status.DECLINED
            self._decide(by=by, reason=reason, review=review)

    def _decide(self, *, by, reason, review):
        self.decided_by = by
        self.decided_at = timezone.now()
        self.decision_reason = reason.strip()
        self.review = review
        self.save()


def _describe(value):
    """A field value as the history shows it."""
    if value is None or value == "":
        return ""
    if isinstance(value, datetime.date):
        return value.isoformat()
    if hasattr(value, "get_username"):
        return value.get_username()
    return str(value)


class AppendOnlyQuerySet(models.QuerySet):
    # History rows: nothing may rewrite them, not even bulk updates.
    def update(self, **kwargs):
        raise ValidationError("History entries are never edited.")

    def delete(self):
        raise ValidationError("History entries are never deleted.")


class AppendOnly(models.Model):
    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValidationError("History entries are never edited.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError("History entries are never deleted.")


class TechniqueChange(AppendOnly):
    """A change of a technique's owner or next action that is not a ring move."""

    technique = models.ForeignKey(Technique, on_delete=models.PROTECT, related_name="changes")
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    changed_at = models.DateTimeField(default=timezone.now, db_index=True)
    changes = models.JSONField(help_text="{field: [old, new]}")
    reason = models.TextField(blank=True)
    review = models.ForeignKey(
        Review, null=True, blank=True, on_delete=models.PROTECT, related_name="technique_changes"
    )

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["changed_at", "pk"]

    def __str__(self):
        return f"{self.technique}: {', '.join(self.changes)} changed"

    def lines(self):
        """[(field label, old, new)] for the history."""
        labels = {"owner": "Owner", "next_action": "Next action", "next_action_due": "Due"}
        return [
            (labels.get(name, name), old or "none", new or "none")
            for name, (old, new) in self.changes.items()
        ]


class ReviewEdit(AppendOnly):
    """A change to a review's notes or attendees made after it was held."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="edits")
    edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    edited_at = models.DateTimeField(default=timezone.now)
    changes = models.JSONField(help_text="{field: [old, new]}")

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["edited_at", "pk"]

    def __str__(self):
        return f"{self.review} edited by {self.edited_by}"

    def summary(self):
        parts = []
        if "attendees" in self.changes:
            old, new = self.changes["attendees"]
            parts.append(f"attendees {', '.join(old) or 'none'} → {', '.join(new) or 'none'}")
        if "notes" in self.changes:
            parts.append("notes rewritten")
        return "; ".join(parts)
