"""Who may run an index job: one live holder at a time, and a dead holder never blocks."""

import subprocess
import sys

import pytest
from django.utils import timezone

from papers.models import IndexState

pytestmark = pytest.mark.django_db


def _dead_pid():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _running_for_a_dead_process_on_this_host():
    state = IndexState.for_model("minilm")
    dead_holder = f"{IndexState.current_holder().rpartition(':')[0]}:{_dead_pid()}"
    IndexState.objects.filter(pk=state.pk).update(
        status=IndexState.Status.RUNNING, heartbeat=timezone.now(), holder=dead_holder
    )
    return state


def test_a_live_claim_is_exclusive():
    first = IndexState.for_model("minilm")
    assert first.claim()
    assert IndexState.objects.get(pk=first.pk).holder == IndexState.current_holder()
    second = IndexState.objects.get(pk=first.pk)
    assert not second.claim()  # this process is alive and its heartbeat fresh


def test_a_claim_held_by_a_dead_process_on_this_host_is_taken_over_at_once():
    state = _running_for_a_dead_process_on_this_host()
    assert state.claim()
    state.refresh_from_db()
    assert state.holder == IndexState.current_holder()
    assert state.status == IndexState.Status.RUNNING


def test_the_rebuild_button_is_not_refused_because_of_a_dead_worker():
    state = _running_for_a_dead_process_on_this_host()
    assert state.mark_queued()
    assert state.status == IndexState.Status.QUEUED


def test_a_fresh_claim_on_another_host_is_respected_until_it_goes_stale():
    state = IndexState.for_model("minilm")
    IndexState.objects.filter(pk=state.pk).update(
        status=IndexState.Status.RUNNING, heartbeat=timezone.now(), holder="gpu-box:4242"
    )
    assert not state.claim()
    IndexState.objects.filter(pk=state.pk).update(
        heartbeat=timezone.now() - IndexState.STALE_AFTER - timezone.timedelta(seconds=1)
    )
    assert state.claim()
