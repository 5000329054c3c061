"""The production configuration passes Django's deployment checks, and pages carry the usual
security headers (issue 5, "Bad input and security")."""

import re
import secrets
import subprocess

import pytest
from csp.middleware import CSPMiddleware
from django.http import HttpResponse

from tests.services import PYTHON, ROOT, service_env


def _check_deploy(tmp_path, **overrides):
    env = service_env(
        DEBUG="false", ASSAY_HTTPS="true", SECRET_KEY=secrets.token_urlsafe(48),
        ALLOWED_HOSTS="assay.example.org", CSRF_TRUSTED_ORIGINS="https://assay.example.org",
        ASSAY_DATA_DIR=str(tmp_path), DATABASE_URL=None, REDIS_URL=None,
    )  # fmt: skip
    env.update(overrides)
    return subprocess.run(
        [PYTHON, str(ROOT / "manage.py"), "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_production_settings_pass_check_deploy_without_warnings(tmp_path):
    result = _check_deploy(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNING" not in result.stdout + result.stderr


def test_check_deploy_flags_a_development_configuration(tmp_path):
    # The same check fails loudly when someone deploys with DEBUG on and no HTTPS settings.
    result = _check_deploy(tmp_path, DEBUG="true", ASSAY_HTTPS="false")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "security.W018" in output  # DEBUG
    assert "security.W004" in output  # HSTS


def test_a_short_secret_key_is_refused(tmp_path):
    result = _check_deploy(tmp_path, SECRET_KEY="too-short")
    assert result.returncode != 0
    assert "SECRET_KEY must be at least 50 characters" in result.stderr


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/accounts/login/", "/healthz", "/static/css/assay.css"])
def test_responses_carry_security_headers(client, path):
    response = client.get(path)
    assert response.status_code == 200
    csp = dict(
        directive.strip().split(" ", 1)
        for directive in response.headers["Content-Security-Policy"].split(";")
    )
    # No inline or eval'd script: injected markup could not run even if it got through.
    assert "'unsafe-inline'" not in csp["script-src"] and "'unsafe-eval'" not in csp["script-src"]
    assert csp["default-src"] == "'self'"
    assert csp["object-src"] == "'none'"
    assert csp["frame-ancestors"] == "'none'"
    assert "camera=()" in response.headers["Permissions-Policy"]
    assert "geolocation=()" in response.headers["Permissions-Policy"]
    if not path.startswith("/static/"):  # static files: frame-ancestors covers framing
        assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"


@pytest.mark.django_db
def test_the_policy_allows_our_own_origin_and_inline_styles_only(client):
    policy = client.get("/accounts/login/").headers["Content-Security-Policy"]
    directives = dict(directive.strip().split(" ", 1) for directive in policy.split(";"))
    assert directives == {
        "default-src": "'self'",
        # No page of Assay uses an inline script, so no nonce is offered.
        "script-src": "'self'",
        "style-src": "'self' 'unsafe-inline'",
        "img-src": "'self' data:",
        "font-src": "'self'",
        "connect-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }


def test_a_page_with_an_inline_script_gets_a_fresh_nonce_for_it(rf):
    def page(request):
        return HttpResponse(f'<script nonce="{request.csp_nonce}">go()</script>')

    policies, bodies = [], []
    for _ in range(2):
        response = CSPMiddleware(page)(rf.get("/"))
        policies.append(response.headers["Content-Security-Policy"])
        bodies.append(response.content.decode())
    nonces = [re.search(r'nonce="([^"]+)"', body).group(1) for body in bodies]
    for policy, nonce in zip(policies, nonces, strict=True):
        assert f"script-src 'self' 'nonce-{nonce}'" in policy
    assert nonces[0] != nonces[1]


@pytest.mark.django_db
def test_https_deployment_sends_hsts_and_secure_cookies(client, settings):
    # What ASSAY_HTTPS=true turns on (settings are read at import, so set them as it would).
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_SSL_REDIRECT = True
    settings.CSRF_COOKIE_SECURE = True
    assert client.get("/accounts/login/").status_code == 301  # plain HTTP is redirected
    response = client.get("/accounts/login/", secure=True)
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert response.cookies["csrftoken"]["secure"]
    # The health check stays reachable over plain HTTP for load balancers.
    assert client.get("/healthz").status_code == 200
