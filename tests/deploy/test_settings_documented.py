"""The settings table stays honest: every environment variable the code reads is in the README
settings table and (for the server) in deploy/assay.env.example, and reaches the containers of
docker-compose.yml. The variables are found by reading the code, not listed here, so a new
setting fails this test until it is documented."""

import re

import pytest

from tests.services import ROOT

# Calls that read one environment variable by name: the typed helpers of config/settings.py and
# deploy/stack.py, and os.environ / os.getenv anywhere else.
READER = re.compile(
    r"""(?:\b_(?:raw|str|bool|int|positive_int|list|setting|int_setting)|os\.environ\.get|"""
    r"""os\.getenv|os\.environ\[)\(?\s*["']([A-Z][A-Z0-9_]+)["']"""
)
# Not settings: Django's own bootstrapping (setdefault, never read through these calls).
SERVER_CODE = ("config", "core", "radar", "papers", "experiments", "review", "deploy")
OTHER_CODE = ("client/assay_client", "examples")


def _variables(folders):
    found = {}
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            for name in READER.findall(path.read_text()):
                found.setdefault(name, str(path.relative_to(ROOT)))
    return found


def _readme_table():
    """Variable names in the rows of the README's settings table."""
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split("|")[1])}


def _env_example():
    lines = (ROOT / "deploy" / "assay.env.example").read_text().splitlines()
    return {line.split("=", 1)[0] for line in lines if re.match(r"^[A-Z][A-Z0-9_]*=", line)}


def test_the_reader_pattern_finds_the_settings_it_should():
    # A guard for the test itself: if the helpers are renamed, nothing would be found.
    server = _variables(SERVER_CODE)
    assert {"SECRET_KEY", "ASSAY_HTTPS", "CONN_MAX_AGE", "ASSAY_BIND", "ALLOWED_HOSTS"} <= set(
        server
    )
    assert {"ASSAY_URL", "ASSAY_EXPERIMENT"} <= set(_variables(OTHER_CODE))


def test_every_variable_the_code_reads_is_in_the_readme_settings_table():
    table = _readme_table()
    variables = {**_variables(OTHER_CODE), **_variables(SERVER_CODE)}
    missing = {name: where for name, where in variables.items() if name not in table}
    assert not missing, f"add to the README settings table: {missing}"


def test_every_variable_the_server_reads_is_in_the_env_example():
    example = _env_example()
    missing = {
        name: where for name, where in _variables(SERVER_CODE).items() if name not in example
    }
    assert not missing, f"add to deploy/assay.env.example, with a comment: {missing}"


def test_every_setting_in_the_env_example_has_a_comment():
    lines = (ROOT / "deploy" / "assay.env.example").read_text().splitlines()
    for number, line in enumerate(lines):
        if re.match(r"^[A-Z][A-Z0-9_]*=", line):
            previous = [entry for entry in lines[:number] if entry.strip()][-1]
            assert previous.startswith("#") or re.match(r"^[A-Z][A-Z0-9_]*=", previous), line


def test_the_env_example_names_nothing_the_code_does_not_read():
    known = set(_variables(SERVER_CODE)) | set(_readme_table())
    stale = _env_example() - known
    assert not stale, f"deploy/assay.env.example sets what nothing reads: {stale}"


@pytest.fixture(scope="module")
def compose_web():
    from tests.deploy.test_compose import compose_config

    return compose_config()["services"]["web"]


def test_every_server_setting_reaches_the_compose_containers(compose_web):
    # .env feeds compose's variable substitution only: a setting must be passed explicitly.
    passed = set(compose_web["environment"]) | set(
        " ".join(map(str, compose_web["command"])).split()
    )
    # Process settings compose expresses in its own terms (commands, ports).
    own_terms = {"ASSAY_BIND", "ASSAY_WORKER_QUEUES", "CELERY_CONCURRENCY"}
    missing = set(_variables(SERVER_CODE)) - passed - own_terms
    assert not missing, f"pass these through x-assay-env in docker-compose.yml: {missing}"
