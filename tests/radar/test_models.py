import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from radar.models import Nomination, Ring, RingMove, Technique
from tests.factories import (
    make_nomination,
    make_quadrant,
    make_review,
    make_technique,
    move_to_trial,
)

pytestmark = pytest.mark.django_db


def test_move_records_who_when_why_and_changes_ring(alice):
    technique = make_technique(name="LoRA", ring="assess", owner=alice)
    move = technique.move_to(
        Ring.TRIAL,
        by=alice,
        reason="Matched full fine-tuning on our eval at 1% of the parameters",
        next_action="Run on the 7B model",
        next_action_due=datetime.date(2030, 1, 31),
        evidence_links=["https://arxiv.org/abs/2106.09685"],
    )
    technique.refresh_from_db()
    assert technique.ring == Ring.TRIAL
    assert (move.from_ring, move.to_ring, move.moved_by) == ("assess", "trial", alice)
    assert list(technique.moves.values_list("to_ring", flat=True)) == ["assess", "trial"]


def test_move_without_reason_is_refused_and_changes_nothing(alice):
    technique = make_technique(name="GQA", ring="adopt")
    with pytest.raises(ValidationError) as error:
        technique.move_to(Ring.HOLD, by=alice, reason="  ", failed_constraint="Too slow")
    assert "reason" in error.value.message_dict
    assert technique.ring == Ring.ADOPT
    technique.refresh_from_db()
    assert technique.ring == Ring.ADOPT
    assert technique.moves.count() == 1


def test_trial_needs_an_owner_and_a_dated_next_action(alice):
    technique = make_technique(name="DPO", ring="adopt")
    with pytest.raises(ValidationError) as error:
        technique.move_to(Ring.TRIAL, by=alice, reason="Promising")
    assert set(error.value.message_dict) == {"owner", "next_action", "next_action_due"}
    assert technique.ring == Ring.ADOPT


def test_assess_needs_an_owner(alice):
    technique = make_technique(name="Ring attention", ring="hold")
    with pytest.raises(ValidationError) as error:
        technique.move_to(Ring.ASSESS, by=alice, reason="Long-context need is back")
    assert set(error.value.message_dict) == {"owner"}
    technique.move_to(Ring.ASSESS, by=alice, reason="Long-context need is back", owner=alice)
    assert Technique.objects.get(pk=technique.pk).owner == alice


@pytest.mark.parametrize("ring", [Ring.HOLD, Ring.SKIP])
def test_hold_and_skip_need_a_specific_reason(alice, ring):
    technique = make_technique(name="Mamba", ring="assess", owner=alice)
    with pytest.raises(ValidationError) as error:
        technique.move_to(ring, by=alice, reason="Not relevant")
    assert "failed_constraint" in error.value.message_dict
    replacement = make_technique(name="Hybrid attention-SSM")
    move = technique.move_to(ring, by=alice, reason="Not relevant", superseded_by=replacement)
    assert move.superseded_by == replacement


def test_saving_a_technique_that_breaks_the_rules_is_refused():
    technique = make_technique(name="MoE routing", ring="adopt")
    technique.ring = Ring.ASSESS
    with pytest.raises(ValidationError) as error:
        technique.save()
    assert "owner" in error.value.message_dict


def test_database_refuses_a_trial_without_owner_even_in_bulk():
    technique = make_technique(name="FP8 training", ring="adopt")
    with pytest.raises(IntegrityError), transaction.atomic():
        Technique.objects.filter(pk=technique.pk).update(ring=Ring.TRIAL)


def test_moves_are_never_edited_or_deleted(alice):
    technique = make_technique(name="QLoRA", ring="adopt")
    move = technique.moves.get()
    move.reason = "rewritten"
    with pytest.raises(ValidationError):
        move.save()
    with pytest.raises(ValidationError):
        move.delete()
    with pytest.raises(ValidationError):
        RingMove.objects.filter(pk=move.pk).update(reason="rewritten")
    with pytest.raises(ValidationError):
        RingMove.objects.all().delete()
    assert RingMove.objects.get(pk=move.pk).reason == "Added in a test"


def test_evidence_links_must_be_web_links(alice):
    technique = make_technique(name="KV-cache quantization", ring="adopt")
    with pytest.raises(ValidationError) as error:
        technique.move_to(
            Ring.HOLD,
            by=alice,
            reason="Quality drop",
            failed_constraint="Perplexity budget",
            evidence_links=["javascript:alert(1)"],
        )
    assert "javascript" in error.value.message_dict["evidence_links"][0]


def test_moving_to_the_same_ring_is_refused(alice):
    technique = make_technique(name="RoPE scaling", ring="adopt")
    with pytest.raises(ValidationError) as error:
        technique.move_to(Ring.ADOPT, by=alice, reason="Still good")
    assert "already in Adopt" in error.value.message_dict["to_ring"][0]


def test_stale_finds_overdue_unowned_and_untouched_but_not_parked(alice):
    today = timezone.localdate()
    overdue = make_technique(name="Overdue", ring="trial", next_action_due=today.replace(year=2020))
    untouched = make_technique(name="Untouched", ring="adopt")
    Technique.objects.filter(pk=untouched.pk).update(
        updated_at=timezone.now() - datetime.timedelta(days=200)
    )
    parked = make_technique(name="Parked", ring="hold")
    Technique.objects.filter(pk=parked.pk).update(
        updated_at=timezone.now() - datetime.timedelta(days=200)
    )
    fresh = make_technique(name="Fresh", ring="adopt")
    stale = set(Technique.objects.stale(days=90))
    assert stale == {overdue, untouched}
    assert fresh not in stale
    assert Technique.objects.get(pk=overdue.pk).stale_reasons(days=90) == [
        "next action overdue since 2020-" + overdue.next_action_due.strftime("%m-%d")
    ]


def test_queryset_filters_chain(alice, bob):
    make_technique(name="A", ring="trial", owner=alice)
    make_technique(name="B", ring="assess", owner=bob)
    make_technique(name="C", ring="skip")
    assert [t.name for t in Technique.objects.active().owned_by(alice)] == ["A"]
    assert [t.name for t in Technique.objects.in_ring(Ring.SKIP, Ring.ASSESS)] == ["B", "C"]


def test_ring_as_of_a_moment_comes_from_the_move_history(alice):
    past = timezone.now() - datetime.timedelta(days=60)
    technique = make_technique(name="Speculative decoding", ring="assess", owner=alice, at=past)
    move_to_trial(
        technique, by=alice, reason="2x on our serving stack", at=past + datetime.timedelta(days=30)
    )
    rings = Technique.objects.with_ring_at(past + datetime.timedelta(days=10)).get()
    assert rings.ring_then == "assess"
    before = Technique.objects.with_ring_at(past - datetime.timedelta(days=1)).get()
    assert before.ring_then is None


def test_nomination_accepted_into_a_ring_creates_technique_and_first_move(alice, bob):
    review = make_review()
    nomination = make_nomination(name="Flash Attention 3", proposed_by=bob)
    technique = nomination.accept(
        Ring.ASSESS, by=alice, reason="H100 fleet arrives in Q3", review=review, owner=bob
    )
    nomination.refresh_from_db()
    assert nomination.status == Nomination.Status.ACCEPTED
    assert nomination.technique == technique
    assert nomination.review == review
    move = technique.moves.get()
    assert (move.from_ring, move.to_ring, move.review) == ("", "assess", review)


def test_nomination_accept_breaking_a_rule_writes_nothing(alice, bob):
    nomination = make_nomination(name="Ring attention", proposed_by=bob)
    with pytest.raises(ValidationError) as error:
        nomination.accept(Ring.TRIAL, by=alice, reason="Try it", owner=bob)
    assert set(error.value.message_dict) == {"next_action", "next_action_due"}
    assert not Technique.objects.filter(name="Ring attention").exists()
    nomination.refresh_from_db()
    assert nomination.is_pending


def test_nomination_for_a_name_already_on_the_radar_is_refused(alice, bob):
    make_technique(name="LoRA")
    nomination = make_nomination(name="lora", proposed_by=bob)
    with pytest.raises(ValidationError) as error:
        nomination.accept(Ring.ADOPT, by=alice, reason="Everyone uses it")
    assert "already on the radar" in error.value.message_dict["name"][0]


def test_nomination_decline_needs_a_reason_and_happens_once(alice, bob):
    nomination = make_nomination(name="Technique X", proposed_by=bob)
    with pytest.raises(ValidationError):
        nomination.decline(by=alice, reason="")
    nomination.decline(by=alice, reason="Superseded by GQA for our sizes")
    with pytest.raises(ValidationError, match="already declined"):
        nomination.decline(by=alice, reason="again")


def test_quadrants_are_data_any_number_in_any_order():
    make_quadrant(name="Serving", order=2)
    make_quadrant(name="Training", order=1)
    make_quadrant(name="Data", order=3)
    make_quadrant(name="Evaluation", order=0)
    make_quadrant(name="Hardware", order=4)
    from radar.models import Quadrant

    assert [q.name for q in Quadrant.objects.all()] == [
        "Evaluation",
        "Training",
        "Serving",
        "Data",
        "Hardware",
    ]


def test_blip_position_depends_only_on_the_slug():
    technique = make_technique(name="PagedAttention")
    again = Technique.objects.get(pk=technique.pk)
    assert technique.position_seed() == again.position_seed()
    assert make_technique(name="Other").position_seed() != technique.position_seed()
    assert all(0 <= value < 1 for value in technique.position_seed())
