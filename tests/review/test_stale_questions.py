"""Open research questions with no activity for a month are on the monthly review's agenda,
as of the review's day (not the day the agenda is looked at)."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from papers.models import ConclusionRevision, QuestionLink, ResearchQuestion
from review.agenda import build_agenda, minutes_markdown
from tests.factories import make_paper, make_question, make_review

pytestmark = pytest.mark.django_db

NOW = timezone.now()
TODAY = timezone.localdate()
DAY = datetime.timedelta(days=1)


def _question(text, *, untouched_days, **fields):
    question = make_question(question=text, **fields)
    ResearchQuestion.objects.filter(pk=question.pk).update(
        updated_at=NOW - untouched_days * DAY, created_at=NOW - 90 * DAY
    )
    return question


def _questions():
    """One stale question and four that are not, for each reason."""
    stale = _question("Does GQA hurt long-context recall?", untouched_days=40)
    with_evidence = _question("Is MoE worth it at our scale?", untouched_days=40)
    QuestionLink.objects.create(
        question=with_evidence, paper=make_paper(), stance="supports", rationale="Cited"
    )
    QuestionLink.objects.filter(question=with_evidence).update(created_at=NOW - 5 * DAY)
    revised = _question("Speculative decoding at batch 32?", untouched_days=40)
    ConclusionRevision.objects.create(question=revised, text="Unclear", status="open")
    ConclusionRevision.objects.filter(question=revised).update(created_at=NOW - 5 * DAY)
    answered = _question("Does FlashAttention help?", untouched_days=40, status="answered")
    edited = _question("Mamba for retrieval?", untouched_days=10)
    return stale, with_evidence, revised, answered, edited


def test_stale_open_questions_are_on_the_agenda_with_a_link(alice_client):
    stale, *_others = _questions()
    review = make_review(held_on=TODAY)
    assert list(build_agenda(review)["stale_questions"]) == [stale]
    page = alice_client.get(review.get_absolute_url()).content.decode()
    section = page.split('id="stale-questions"')[1].split("</section>")[0]
    assert "Stale research questions" in section
    assert f'<a href="{reverse("papers:question_detail", args=[stale.pk])}">' in section
    assert f"no activity since {(NOW - 40 * DAY):%Y-%m-%d}" in section
    assert section.count("<li>") == 1
    minutes = minutes_markdown(review)
    assert "## Stale research questions" in minutes and stale.question in minutes


def test_staleness_is_counted_to_the_reviews_day():
    stale, *_, edited = _questions()

    def stale_on(day):
        return set(build_agenda(make_review(held_on=day))["stale_questions"])

    # Untouched for 10 days today: stale for a review 25 days from now, not 15.
    assert stale_on(TODAY + 15 * DAY) == {stale}
    assert stale_on(TODAY + 25 * DAY) == {stale, edited}
    # Untouched for 40 days today: a review held three weeks ago saw it moving.
    assert stale_on(TODAY - 21 * DAY) == set()


def test_no_stale_question_says_so(alice_client):
    make_question(question="Fresh?")
    review = make_review(held_on=TODAY)
    page = alice_client.get(review.get_absolute_url()).content.decode()
    assert "Every open question moved this month." in page
