"""Every setting fails loudly on a bad value, naming the variable, and production defaults are
safe: with DEBUG off and a real host name, `check --deploy` is clean with nothing else set."""

import secrets
import subprocess

import pytest

from tests.services import PYTHON, ROOT, service_env

PRINT_SETTINGS = (
    "import json, config.settings as s; "
    "print(json.dumps({'https': s.ASSAY_HTTPS, 'redirect': s.SECURE_SSL_REDIRECT, "
    "'cache': s.CACHES['default']['BACKEND'], 'models': s.ASSAY_EMBEDDING_MODELS, "
    "'default_model': s.ASSAY_EMBEDDING_DEFAULT_MODEL, "
    "'conn_max_age': s.DATABASES['default'].get('CONN_MAX_AGE')}))"
)


def _settings(tmp_path, **variables):
    env = service_env(
        ASSAY_DATA_DIR=str(tmp_path), DATABASE_URL=None, REDIS_URL=None, ALLOWED_HOSTS=None,
        ASSAY_HTTPS=None, ASSAY_EMBEDDING_MODELS=None, ASSAY_EMBEDDING_DEFAULT_MODEL=None,
    )  # fmt: skip
    env.update(variables)
    return subprocess.run(
        [PYTHON, "-c", PRINT_SETTINGS], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip


def _values(tmp_path, **variables):
    import json

    result = _settings(tmp_path, **variables)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _refused(tmp_path, **variables):
    result = _settings(tmp_path, **variables)
    assert result.returncode != 0, f"{variables} was accepted"
    return result.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("word", ["ture", "enabled", "2", "y"])
def test_a_boolean_that_is_not_a_known_word_stops_start_up(tmp_path, word):
    message = _refused(tmp_path, ASSAY_HTTPS=word)
    assert (
        "ImproperlyConfigured: ASSAY_HTTPS must be one of true/1/yes/on/false/0/no/off" in message
    )
    assert repr(word) in message


@pytest.mark.parametrize(
    ("word", "value"), [("true", True), ("ON", True), ("1", True), ("no", False), ("off", False)]
)
def test_boolean_words_in_any_case(tmp_path, word, value):
    assert _values(tmp_path, ASSAY_HTTPS=word)["https"] is value


def test_an_empty_value_counts_as_unset(tmp_path):
    # docker compose passes `${NAME:-}` through as an empty string.
    values = _values(tmp_path, ASSAY_HTTPS="", ASSAY_EMBEDDING_MODELS="", REDIS_URL="")
    assert values["https"] is False
    assert values["models"] == ["minilm", "wordllama"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("soon", "CONN_MAX_AGE must be an integer, got 'soon'"),
        ("-5", "CONN_MAX_AGE must be at least 0"),
    ],
)
def test_conn_max_age_is_validated(tmp_path, value, expected):
    message = _refused(tmp_path, DATABASE_URL="postgres://u:p@db:5432/assay", CONN_MAX_AGE=value)
    assert expected in message


def test_conn_max_age_is_read(tmp_path):
    values = _values(tmp_path, DATABASE_URL="postgres://u:p@db:5432/assay", CONN_MAX_AGE="0")
    assert values["conn_max_age"] == 0


@pytest.mark.parametrize(
    ("models", "expected"),
    [
        ("bert", "ASSAY_EMBEDDING_MODELS entry 'bert' is neither a built-in model"),
        ("mine=", "ASSAY_EMBEDDING_MODELS entry 'mine=' is neither a built-in model"),
        ("minilm,minilm", "ASSAY_EMBEDDING_MODELS names 'minilm' twice"),
        (",", "ASSAY_EMBEDDING_MODELS must name at least one model"),
    ],
)
def test_a_bad_embedding_model_list_stops_start_up(tmp_path, models, expected):
    assert expected in _refused(tmp_path, ASSAY_EMBEDDING_MODELS=models)


def test_an_unknown_default_model_is_an_error_not_a_fallback(tmp_path):
    message = _refused(tmp_path, ASSAY_EMBEDDING_DEFAULT_MODEL="e5")
    assert (
        "ASSAY_EMBEDDING_DEFAULT_MODEL 'e5' is not one of ASSAY_EMBEDDING_MODELS "
        "(minilm, wordllama)" in message
    )


def test_the_default_model_is_the_first_configured_one(tmp_path):
    values = _values(tmp_path, ASSAY_EMBEDDING_MODELS="wordllama,mine=/models/mine")
    assert values["default_model"] == "wordllama"


def test_an_unknown_query_embedding_backend_stops_start_up(tmp_path):
    message = _refused(tmp_path, ASSAY_QUERY_EMBEDDING="onnx-fp16")
    assert "ASSAY_QUERY_EMBEDDING must be one of onnx-int8, onnx, torch, got 'onnx-fp16'" in message


def test_a_positive_setting_names_itself(tmp_path):
    assert "ASSAY_MAX_UPLOAD_BYTES must be at least 1, got 0" in _refused(
        tmp_path, ASSAY_MAX_UPLOAD_BYTES="0"
    )


def test_the_shared_cache_is_redis_when_redis_url_is_set(tmp_path):
    # Throttles and the debounce must hold across web workers, not per process.
    with_redis = _values(tmp_path, REDIS_URL="redis://127.0.0.1:6379/0")
    assert with_redis["cache"] == "config.cache.FailSoftRedisCache"
    from django.core.cache.backends.redis import RedisCache

    from config.cache import FailSoftRedisCache

    assert issubclass(FailSoftRedisCache, RedisCache)
    assert _values(tmp_path)["cache"] == "django.core.cache.backends.locmem.LocMemCache"


# --- deployment defaults --------------------------------------------------------------------


def check_deploy(tmp_path, **variables):
    """`manage.py check --deploy` with only these variables (and the data folder) set."""
    env = {
        "PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "ASSAY_DATA_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "config.settings", "HF_HUB_OFFLINE": "1",
    }  # fmt: skip
    env.update(variables)
    return subprocess.run(
        [PYTHON, str(ROOT / "manage.py"), "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


PRODUCTION = {"SECRET_KEY": "k" * 64, "ALLOWED_HOSTS": "assay.example.org", "DEBUG": "false"}


def test_check_deploy_is_clean_with_only_secret_key_and_allowed_hosts(tmp_path):
    result = check_deploy(tmp_path, **{**PRODUCTION, "SECRET_KEY": secrets.token_urlsafe(48)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "System check identified no issues (0 silenced)."
    assert result.stderr == ""


def test_a_plain_http_lab_install_opts_out_explicitly(tmp_path):
    lab = check_deploy(tmp_path, **PRODUCTION, ASSAY_HTTPS="false")
    # The opt-out does what it says (and check --deploy says what that costs).
    assert lab.returncode != 0
    assert "security.W008" in lab.stderr  # no HTTPS redirect
    assert "security.W012" in lab.stderr  # session cookie not secure


def test_the_embedded_default_stays_plain_http(tmp_path):
    # Only loopback names allowed: a laptop's `manage.py runserver`, not a production site.
    assert _values(tmp_path)["https"] is False
    assert _values(tmp_path, ALLOWED_HOSTS="localhost,127.0.0.1,::1")["redirect"] is False
    assert _values(tmp_path, ALLOWED_HOSTS="assay.example.org")["redirect"] is True


@pytest.mark.redis
@pytest.mark.slow
def test_web_processes_share_one_cache_through_redis(tmp_path):
    """What the token throttle and the evaluation debounce rely on: a count kept by one web
    process is seen by the next (with LocMem each process counted on its own)."""
    from tests.services import RedisServer

    redis = RedisServer(tmp_path / "redis").start()
    count = (
        "import django; django.setup(); from django.core.cache import cache; "
        "cache.add('failures:203.0.113.9', 0, 60); print(cache.incr('failures:203.0.113.9'))"
    )
    env = service_env(ASSAY_DATA_DIR=str(tmp_path), DATABASE_URL=None, REDIS_URL=redis.url)
    try:
        seen = [
            subprocess.run(
                [PYTHON, "-c", count], cwd=ROOT, env=env, capture_output=True, text=True,
                timeout=60,
            ).stdout.strip()
            for _ in range(3)
        ]  # fmt: skip
    finally:
        redis.stop()
    assert seen == ["1", "2", "3"]
