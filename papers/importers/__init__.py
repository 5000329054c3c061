"""Importing papers from BibTeX, CSL-JSON, RIS and arXiv Atom files, with dedupe and a report.

report = import_text(text)            # format told from the content
report.summary_line()                 # "created 3, merged 1, duplicates 0, rejected 1"
"""

import codecs

from django.db import transaction

from . import arxiv_atom, bibtex, csl_json, ris
from .base import (
    ImportFormatError,
    ImportReport,
    PaperRecord,
    RecordOutcome,
    Rejection,
    reject,
    repeat_of,
    save_record,
)

FORMATS = {"bibtex": "BibTeX", "csl-json": "CSL-JSON", "ris": "RIS", "arxiv-atom": "arXiv Atom"}
_PARSERS = {
    "bibtex": bibtex.parse,
    "csl-json": csl_json.parse,
    "ris": ris.parse,
    "arxiv-atom": arxiv_atom.parse,
}
# Byte order marks and the encodings they announce; EndNote on Windows writes UTF-16.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

__all__ = [
    "FORMATS",
    "ImportFormatError",
    "ImportReport",
    "PaperRecord",
    "RecordOutcome",
    "decode_file",
    "detect_format",
    "import_text",
]


def decode_file(data):
    """The text of an uploaded or read file: UTF-8 (with or without a byte order mark), or the
    UTF-16/UTF-32 its byte order mark names. Raises ImportFormatError naming the first byte
    that is not UTF-8."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError:
                break
            # Bibliography tags and keys are ASCII; a binary file that merely starts with
            # FF FE decodes to CJK-looking noise, and is refused below as not UTF-8.
            if sum(char.isascii() for char in text) * 2 >= len(text):
                return text
            break
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ImportFormatError(
            f"the file is not UTF-8 text (byte {error.start} cannot be read)"
        ) from error


def detect_format(text):
    """ "bibtex", "csl-json", "ris" or "arxiv-atom", from the content; raises
    ImportFormatError."""
    if not text.strip():
        raise ImportFormatError("the file is empty")
    if csl_json.looks_like_csl_json(text):
        return "csl-json"
    if arxiv_atom.looks_like_atom(text):
        return "arxiv-atom"
    # Before BibTeX: a RIS abstract may hold a line that looks like "@article{".
    if ris.looks_like_ris(text):
        return "ris"
    if bibtex.looks_like_bibtex(text):
        return "bibtex"
    raise ImportFormatError(
        "cannot tell the format: expected BibTeX (@article{...}), CSL-JSON ([...]), "
        "RIS (TY  - JOUR) or an arXiv Atom feed (<feed ...>)"
    )


class _DryRun(Exception):  # noqa: N818 - control flow, never escapes this module
    pass


def import_text(text, *, dry_run=False, progress=None, may_merge_papers=True):
    """Import every record of `text`; returns an ImportReport.

    Each record is saved in its own savepoint, so a bad record leaves nothing behind and the
    others still import. With `dry_run` the same work is done and then rolled back, so the
    report says exactly what a real import would do. `progress(iterable, total)` may wrap the
    record loop (a tqdm bar). `may_merge_papers` is whether the importing user may delete
    papers: a record matching several saved papers merges them, and without it that record is
    rejected instead (the command line runs as an operator, so it may). Raises
    ImportFormatError when the file as a whole is unreadable.
    """
    format_name = detect_format(text)
    items = list(_PARSERS[format_name](text))
    report = ImportReport(format=format_name, dry_run=dry_run)
    loop = progress(items, len(items)) if progress else items
    # The first outcome under each record key: a record repeated under its key (a file
    # concatenated from two exports) is that record again, whatever its fields say.
    by_key = {}
    try:
        with transaction.atomic():
            for item in loop:
                key = item.key.strip().lower()
                first = by_key.get(key) if key else None
                if first is not None and first.status != RecordOutcome.REJECTED:
                    outcome = repeat_of(item, first)
                elif isinstance(item, Rejection):
                    outcome = reject(item)
                else:
                    outcome = save_record(item, may_merge_papers=may_merge_papers)
                if key and (first is None or first.status == RecordOutcome.REJECTED):
                    by_key[key] = outcome
                report.outcomes.append(outcome)
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return report
