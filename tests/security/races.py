"""Races run inside `manage.py shell` on a real PostgreSQL (see test_concurrency.py).

Each thread has its own database connection, as two web workers would. Objects are loaded
before the barrier, so both threads decide on the same state, as two Leads looking at the
same page do; the barrier then releases their writes together.
"""

import threading

from django.core.exceptions import ValidationError
from django.db import connection

ROUNDS = 8


def _at_once(*actions):
    """Run the actions in threads released together; each result is "ok" or the error."""
    barrier = threading.Barrier(len(actions))
    results = [None] * len(actions)

    def run(index):
        try:
            barrier.wait(timeout=10)
            actions[index]()
            results[index] = "ok"
        except ValidationError as error:
            results[index] = "refused: " + " ".join(error.messages)
        except Exception as error:  # noqa: BLE001 - the test reports whatever went wrong
            results[index] = f"error: {type(error).__name__}: {error}"
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(actions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def nominations():
    from radar.models import Nomination, Technique
    from tests import factories

    lead = factories.make_user(role="Lead")
    outcomes = []
    for _ in range(ROUNDS):
        nomination = factories.make_nomination(proposed_by=lead)
        first = Nomination.objects.get(pk=nomination.pk)
        second = Nomination.objects.get(pk=nomination.pk)
        results = _at_once(
            lambda first=first: first.accept("adopt", by=lead, reason="Measured 2x"),
            lambda second=second: second.decline(by=lead, reason="Not for us"),
        )
        nomination.refresh_from_db()
        outcomes.append(
            {
                "results": results,
                "status": nomination.status,
                "techniques": Technique.objects.filter(name=nomination.name).count(),
            }
        )
    return outcomes


def moves():
    from radar.models import RingMove, Technique
    from tests import factories

    lead = factories.make_user(role="Lead")
    outcomes = []
    for _ in range(ROUNDS):
        technique = factories.make_technique(ring="adopt")
        first = Technique.objects.get(pk=technique.pk)
        second = Technique.objects.get(pk=technique.pk)
        results = _at_once(
            lambda first=first: first.move_to(
                "hold", by=lead, reason="Costs too much", failed_constraint="cost"
            ),
            lambda second=second: second.move_to("assess", by=lead, reason="Re-check", owner=lead),
        )
        chain = list(
            RingMove.objects.filter(technique=technique)
            .order_by("moved_at", "pk")
            .values_list("from_ring", "to_ring")
        )
        technique.refresh_from_db()
        outcomes.append({"results": results, "chain": chain, "ring": technique.ring})
    return outcomes


def experiment_keys():
    from django.utils import timezone

    from experiments.forms import ExperimentForm
    from experiments.models import Experiment
    from tests import factories

    owner = factories.make_user(role="Lead")
    technique = factories.make_technique(ring="adopt")
    today = timezone.localdate().isoformat()
    data = {"technique": technique.pk, "title": "Race", "hypothesis": "Two at once",
            "portfolio_bucket": "core",
            "engineer_weeks": "1", "engineer_week_cost": "1000", "compute_cost": "0",
            "expected_benefit_per_month": "0", "stage_starts_on": today,
            "stage_deadline": today}  # fmt: skip
    outcomes = []
    for _ in range(ROUNDS):
        forms = [ExperimentForm(data) for _ in range(4)]
        assert all(form.is_valid() for form in forms), [form.errors for form in forms]
        before = Experiment.objects.count()
        results = _at_once(*[lambda form=form: form.save_for(owner) for form in forms])
        keys = list(Experiment.objects.values_list("key", flat=True))
        outcomes.append({"results": results, "created": Experiment.objects.count() - before,
                         "distinct_keys": len(set(keys)) == len(keys)})  # fmt: skip
    return outcomes
