"""Checks every upload form shares, and what every file importer needs."""

import io

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.template.defaultfilters import filesizeformat


def check_upload_size(upload, setting="ASSAY_MAX_UPLOAD_BYTES"):
    """Refuse a file over the limit `setting` names, naming its size and the limit."""
    limit = getattr(settings, setting)
    if upload.size > limit:
        raise forms.ValidationError(
            f"The file is {filesizeformat(upload.size)}; the limit is "
            f"{filesizeformat(limit)} ({setting})."
        )
    return upload


def set_upload_limit(request, setting):
    """Let this request's files grow to the limit `setting` names (PDFs are larger than
    bibliographies), instead of ASSAY_MAX_UPLOAD_BYTES.

    Call it before anything reads request.POST or request.FILES: the view must be csrf_exempt
    and check the token itself (csrf_protect inside), as Django's docs on changing upload
    handlers explain, since the CSRF middleware would otherwise read the body first.
    """
    request.upload_limit_bytes = getattr(settings, setting)


class OversizeUpload(UploadedFile):
    """A file dropped at the size limit: it has a name and the size sent, and no content."""

    def __init__(self, name, size, content_type):
        super().__init__(io.BytesIO(), name=name, content_type=content_type, size=size)


class SizeLimitUploadHandler(FileUploadHandler):
    """First of FILE_UPLOAD_HANDLERS: stops a file at ASSAY_MAX_UPLOAD_BYTES (or the request's
    own limit, set_upload_limit) while it streams.

    Django's own handlers would write the whole file to a temporary file before any form could
    look at its size. Past the limit this handler passes no more data on and discards what the
    handlers after it stored; the rest of the request is still read (and thrown away) so that
    the browser gets the answer rather than a reset connection. The file then arrives as an
    OversizeUpload of the size sent, which check_upload_size refuses with both sizes.
    """

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.received, self.over_limit = 0, False

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        limit = getattr(self.request, "upload_limit_bytes", settings.ASSAY_MAX_UPLOAD_BYTES)
        if self.received <= limit:
            return raw_data
        if not self.over_limit:
            self.over_limit = True
            self._discard_stored()
        return None

    def _discard_stored(self):
        # The later handlers keep what they stored in `file`, as Django's own clean-up assumes.
        for handler in self.request.upload_handlers:
            stored = getattr(handler, "file", None)
            if handler is not self and stored is not None:
                stored.close()  # a temporary file is deleted when closed

    def file_complete(self, file_size):
        if not self.over_limit:
            return None  # under the limit: the next handler returns the file it stored
        return OversizeUpload(self.file_name, self.received, self.content_type)


class LineCounter:
    """Line numbers of positions in `text` given in increasing order.

    Each newline is counted once as the positions advance, so numbering n records of a file
    costs one pass over it, not n (counting from the start each time is quadratic).
    """

    def __init__(self, text):
        self.text, self.position, self.line = text, 0, 1

    def line_at(self, position):
        self.line += self.text.count("\n", self.position, position)
        self.position = max(position, self.position)
        return self.line


def too_many_records(count):
    """The refusal for a file of `count` records, or "" when it is within the limit."""
    limit = settings.ASSAY_IMPORT_MAX_RECORDS
    if count <= limit:
        return ""
    return (
        f"the file has {count:,} records; the limit is {limit:,} per file "
        "(ASSAY_IMPORT_MAX_RECORDS): split it into smaller files"
    )
