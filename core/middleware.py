"""Security headers that neither Django 5.2 nor django-csp sends.

Django's SecurityMiddleware already sends nosniff, Referrer-Policy, Cross-Origin-Opener-Policy,
HSTS (with ASSAY_HTTPS), XFrameOptionsMiddleware sends X-Frame-Options and django-csp the
Content-Security-Policy (settings.CONTENT_SECURITY_POLICY). This adds a Permissions-Policy and
a Cross-Origin-Resource-Policy.
"""

# Features no Assay page uses: deny them to any script or frame.
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer", "autoplay", "camera", "display-capture", "geolocation", "gyroscope",
        "magnetometer", "microphone", "midi", "payment", "publickey-credentials-get", "usb",
    )
)  # fmt: skip


class SecurityHeadersMiddleware:
    """Adds Permissions-Policy and Cross-Origin-Resource-Policy to every response."""

    # Hand-written: two constant headers, which no library already installed here sends.
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        response.headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        return response
