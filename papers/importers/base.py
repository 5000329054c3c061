"""What every importer shares: the record it produces, saving a record with dedupe, the report."""

import re
from collections import Counter
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from pylatexenc.latex2text import LatexNodes2Text, MacroTextSpec, get_default_latex_context_db

from papers import dedupe
from papers.identifiers import clean_title
from papers.models import Paper, Tag

_context = get_default_latex_context_db()
# pylatexenc reads \textasciicircum as the modifier letter ˆ; it is the ASCII caret.
_context.add_context_category("assay", macros=[MacroTextSpec("textasciicircum", "^")], prepend=True)
_latex = LatexNodes2Text(latex_context=_context, math_mode="verbatim", keep_braced_groups=False)


def decode_latex(text):
    """LaTeX (accents, braces, escapes; math kept as written) to plain Unicode text."""
    # A bare % starts a LaTeX comment, but in bibliographies it nearly always means percent.
    text = re.sub(r"(?<!\\)%", r"\\%", text or "")
    try:
        return " ".join(_latex.latex_to_text(text).split())
    except RecursionError:
        # The decoder recurses per group and environment; the callers cap brace depth, and
        # this catches what else nests that deep (hundreds of \begin{x}).
        raise RecordRejected("the LaTeX is nested too deeply to read") from None


def strip_braces(text):
    """A verbatim field (URL, DOI, eprint) with BibTeX braces and escapes removed."""
    text = re.sub(r"\\([_&%#$])", r"\1", text or "")
    return "".join(text.replace("{", "").replace("}", "").split())


class ImportFormatError(ValueError):
    """The file as a whole cannot be read (unknown format, not JSON, not well-formed XML)."""


class RecordRejected(ValueError):  # noqa: N818 - reads as what happened to the record
    """One record cannot become a paper; the message says why."""


@dataclass
class PaperRecord:
    """One paper as read from a file, before dedupe. Identifiers may still be unnormalised."""

    line: int | None
    label: str
    title: str
    authors: list[str] = field(default_factory=list)
    year: int | None = None
    venue: str = ""
    abstract: str = ""
    arxiv_id: str = ""
    doi: str = ""
    url: str = ""
    bibtex_key: str = ""
    entry_type: str = Paper.EntryType.MISC
    tags: list[str] = field(default_factory=list)
    # The file's own name for the record (BibTeX key, CSL or RIS id): a second record under a
    # key already seen in the file is a repeat of the first, reported as a duplicate.
    key: str = ""
    # Fields dropped because they could not be read ("field doi: 'x' is not a DOI; dropped"):
    # the rest of the record still imports, and the report says what was left out.
    warnings: list[str] = field(default_factory=list)

    def to_paper(self):
        """An unsaved Paper with normalised identifiers, validated; raises RecordRejected.

        Only a record without a usable title is rejected: a field that fails validation (a DOI
        that is no DOI, an implausible year) is blanked and named in `warnings`.
        """
        paper = Paper(
            title=clean_title(self.title),
            authors=[" ".join(a.split()) for a in self.authors if a.strip()],
            year=self.year,
            venue=" ".join(self.venue.split())[:500],
            abstract=self.abstract.strip(),
            arxiv_id=self.arxiv_id,
            doi=self.doi,
            url=self.url if re.match(r"https?://", self.url or "") else "",
            bibtex_key=self.bibtex_key[:200],
            entry_type=self.entry_type,
        )
        try:
            paper.full_clean(validate_unique=False, validate_constraints=False)
        except ValidationError as error:
            errors = error.message_dict
            if "title" in errors or not set(errors) <= set(_DROPPABLE):
                raise RecordRejected(_describe(error)) from error
            for name, messages in errors.items():
                self.warnings.append(f"{name}: {' '.join(messages)} Dropped.")
                setattr(paper, name, _DROPPABLE[name]())
            try:
                paper.full_clean(validate_unique=False, validate_constraints=False)
            except ValidationError as again:
                raise RecordRejected(_describe(again)) from again
        # save() normalises; do it now so dedupe compares the stored forms.
        paper.normalise()
        # An arXiv id with neither DOI nor venue is a preprint, whatever type the file gave.
        if paper.arxiv_id and not paper.doi and not paper.venue:
            paper.entry_type = Paper.EntryType.PREPRINT
        return paper


# What a field that fails validation is replaced with, so the rest of its record imports.
_DROPPABLE = {
    "authors": list,
    "year": lambda: None,
    "venue": str,
    "abstract": str,
    "arxiv_id": str,
    "doi": str,
    "url": str,
    "bibtex_key": str,
}


@dataclass
class Rejection:
    """A record the parser could not read at all."""

    line: int | None
    label: str
    reason: str
    key: str = ""


@dataclass
class RecordOutcome:
    CREATED = "created"
    MERGED = "merged"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"

    status: str
    line: int | None
    label: str
    title: str = ""
    detail: str = ""
    paper_id: int | None = None
    warnings: list[str] = field(default_factory=list)

    def __str__(self):
        where = f"line {self.line}" if self.line else "record"
        name = f" {self.label}" if self.label else ""
        text = f" {self.title!r}" if self.title else ""
        notes = [self.detail] if self.detail else []
        notes += [f"warning: {warning}" for warning in self.warnings]
        detail = f": {'; '.join(notes)}" if notes else ""
        return f"{where}{name}{text} {self.status}{detail}"


@dataclass
class ImportReport:
    format: str
    dry_run: bool = False
    outcomes: list[RecordOutcome] = field(default_factory=list)

    @property
    def warned(self):
        """The outcomes that dropped a field or more."""
        return [outcome for outcome in self.outcomes if outcome.warnings]

    @property
    def counts(self):
        counts = Counter(outcome.status for outcome in self.outcomes)
        return {status: counts.get(status, 0) for status in _STATUSES}

    def summary_line(self):
        c = self.counts
        return (
            f"created {c['created']}, merged {c['merged']}, "
            f"duplicates {c['duplicate']}, rejected {c['rejected']}"
        )


_STATUSES = (
    RecordOutcome.CREATED,
    RecordOutcome.MERGED,
    RecordOutcome.DUPLICATE,
    RecordOutcome.REJECTED,
)


def _describe(error):
    if hasattr(error, "message_dict"):
        return "; ".join(
            f"{name}: {' '.join(messages)}" for name, messages in error.message_dict.items()
        )
    return " ".join(error.messages)


def save_record(record, *, may_merge_papers=True):
    """Create, merge or skip one record against the papers already saved; returns the outcome.

    Runs in its own savepoint, so a record that fails half-way leaves nothing behind. A record
    that matches several saved papers merges them, which deletes all but one; without
    `may_merge_papers` (the importing user may not delete papers) such a record is rejected.
    """
    try:
        with transaction.atomic():
            return _save_record(record, may_merge_papers=may_merge_papers)
    except RecordRejected as error:
        reason = str(error)
    except ValidationError as error:
        reason = _describe(error)
    except IntegrityError as error:
        # Another import saved the same identifier between our lookup and our insert.
        reason = f"conflicts with a paper saved meanwhile ({error})"
    return RecordOutcome(
        RecordOutcome.REJECTED,
        record.line,
        record.label,
        record.title,
        detail=reason,
        warnings=record.warnings,
    )


def _save_record(record, *, may_merge_papers):
    candidate = record.to_paper()
    tags = Tag.for_names(record.tags)
    matches = dedupe.find_matches(candidate)
    if len(matches) > 1 and not may_merge_papers:
        named = " and ".join(f"#{paper.pk} {paper.title!r}" for paper in matches)
        raise RecordRejected(
            f"it matches papers {named}, and importing it would merge them; "
            "merging papers deletes all but one, which only a Lead may do: "
            "ask a Lead to merge them, then import the file again"
        )
    if not matches:
        candidate.save()
        candidate.tags.set(tags)
        return RecordOutcome(
            RecordOutcome.CREATED,
            record.line,
            record.label,
            candidate.title,
            "",
            candidate.pk,
            record.warnings,
        )
    keep = matches[0]
    changes = []
    for other in matches[1:]:
        # This record names two saved papers as one (its arXiv id is one's, its DOI the other's).
        other.merge_into(keep)
        changes.append(f"joined paper #{other.pk}")
    fill = candidate.fields_missing_from(keep)
    for name, value in fill.items():
        setattr(keep, name, value)
    if fill:
        keep.save()
        changes.append("added " + ", ".join(sorted(fill)))
    new_tags = [t for t in tags if not keep.tags.filter(pk=t.pk).exists()]
    if new_tags:
        keep.tags.add(*new_tags)
        changes.append("added tags " + ", ".join(t.name for t in new_tags))
    status = RecordOutcome.MERGED if changes else RecordOutcome.DUPLICATE
    detail = f"paper #{keep.pk}" + (f" ({'; '.join(changes)})" if changes else "")
    return RecordOutcome(
        status, record.line, record.label, keep.title, detail, keep.pk, record.warnings
    )


def reject(item):
    return RecordOutcome(RecordOutcome.REJECTED, item.line, item.label, detail=item.reason)


def repeat_of(item, first):
    """The outcome of `item`, a record filed under the same key as the earlier `first`."""
    detail = f"repeats the key {item.key!r} of line {first.line}"
    if first.paper_id:
        detail += f" (paper #{first.paper_id})"
    title = getattr(item, "title", "") or first.title
    return RecordOutcome(
        RecordOutcome.DUPLICATE, item.line, item.label, title, detail, first.paper_id
    )
