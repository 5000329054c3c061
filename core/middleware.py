"""Security headers that Django 5.2 does not send by itself.

Django's SecurityMiddleware already sends nosniff, Referrer-Policy, Cross-Origin-Opener-Policy,
HSTS (with ASSAY_HTTPS) and XFrameOptionsMiddleware sends X-Frame-Options. This adds a
Content-Security-Policy and a Permissions-Policy.

The policy allows scripts only from our own origin, so user-written Markdown that slipped past
the sanitiser still could not run script. A page that really needs an inline script marks it
with the per-request nonce: `<script nonce="{{ request.csp_nonce }}">`.
"""

import secrets

# Features no Assay page uses: deny them to any script or frame.
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer", "autoplay", "camera", "display-capture", "geolocation", "gyroscope",
        "magnetometer", "microphone", "midi", "payment", "publickey-credentials-get", "usb",
    )
)  # fmt: skip


def content_security_policy(nonce):
    """The CSP for one response; `nonce` admits the page's own inline scripts."""
    directives = {
        "default-src": "'self'",
        "script-src": f"'self' 'nonce-{nonce}'",
        # Inline styles: htmx injects its indicator styles and the server-drawn SVG radar
        # positions blips with style attributes; styles cannot run code.
        "style-src": "'self' 'unsafe-inline'",
        "img-src": "'self' data:",
        "font-src": "'self'",
        "connect-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


class SecurityHeadersMiddleware:
    """Adds Content-Security-Policy and Permissions-Policy to every response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.csp_nonce = secrets.token_urlsafe(16)
        response = self.get_response(request)
        # A view may set its own policy (e.g. a file download); do not overwrite it.
        response.headers.setdefault(
            "Content-Security-Policy", content_security_policy(request.csp_nonce)
        )
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        response.headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        return response
