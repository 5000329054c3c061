"""Two people doing the same thing at the same moment, on a real PostgreSQL (issue 9, 9 and 11).

SQLite serialises every write transaction, so these races only show on PostgreSQL. Each
check runs in a `manage.py shell` on a freshly migrated database, with one thread (and one
connection) per person; see races.py.
"""

import json

import pytest

from tests.services import manage, migrated_database, service_env

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def race(request, tmp_path_factory):
    """race(name): run races.<name>() on a database of its own; its JSON-able result."""

    def run(name):
        _, database_url = migrated_database(request, tmp_path_factory, f"assay_race_{name}")
        env = service_env(DATABASE_URL=database_url, REDIS_URL=None,
                          ASSAY_DATA_DIR=str(tmp_path_factory.mktemp("races")))  # fmt: skip
        script = (
            "import json; from tests.security import races; "
            f"print('RESULT', json.dumps(races.{name}()))"
        )
        output = manage(env, "shell", "-c", script)
        line = next(line for line in output.splitlines() if line.startswith("RESULT "))
        return json.loads(line.removeprefix("RESULT "))

    return run


def test_accept_and_decline_at_once_decide_once_and_leave_no_orphan(race):
    for outcome in race("nominations"):
        results, status = outcome["results"], outcome["status"]
        assert sorted(r == "ok" for r in results) == [False, True], outcome
        loser = next(r for r in results if r != "ok")
        assert loser.startswith("refused: The nomination of") and "already" in loser, outcome
        # Accepted: exactly one technique; declined: none (no orphan on the radar).
        assert outcome["techniques"] == (1 if status == "accepted" else 0), outcome
        assert status == ("accepted" if results[0] == "ok" else "declined"), outcome


def test_two_moves_of_one_technique_at_once_keep_the_history_a_chain(race):
    for outcome in race("moves"):
        results, chain = outcome["results"], outcome["chain"]
        assert sorted(r == "ok" for r in results) == [False, True], outcome
        assert "was just moved to" in next(r for r in results if r != "ok"), outcome
        # Every move starts from the ring the one before it ended in: no stale "from".
        for (_, to_ring), (from_ring, _) in zip(chain, chain[1:], strict=False):
            assert from_ring == to_ring, outcome
        assert chain[-1][1] == outcome["ring"], outcome


def test_experiments_created_at_once_get_distinct_keys(race):
    for outcome in race("experiment_keys"):
        assert outcome["results"] == ["ok"] * 4, outcome
        assert outcome["created"] == 4 and outcome["distinct_keys"], outcome
