"""Checks every upload form shares."""

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat


def check_upload_size(upload):
    """Refuse a file over ASSAY_MAX_UPLOAD_BYTES, naming its size and the limit."""
    limit = settings.ASSAY_MAX_UPLOAD_BYTES
    if upload.size > limit:
        raise forms.ValidationError(
            f"The file is {filesizeformat(upload.size)}; the limit is "
            f"{filesizeformat(limit)} (ASSAY_MAX_UPLOAD_BYTES)."
        )
    return upload
