"""Atom feeds as the arXiv API returns them (export.arxiv.org/api/query)."""

import re
import xml.etree.ElementTree as ElementTree

from core.uploads import LineCounter, too_many_records
from papers.identifiers import normalise_arxiv_id, normalise_doi
from papers.models import Paper

from .base import ImportFormatError, PaperRecord, RecordRejected, Rejection, decode_latex

ATOM = "{http://www.w3.org/2005/Atom}"
ARXIV = "{http://arxiv.org/schemas/atom}"
# An arXiv entry is three elements deep (entry, author, name); far deeper is a hostile file.
MAX_ENTRY_DEPTH = 32


def looks_like_atom(text):
    return text.lstrip().startswith("<")


def parse(text):
    """Yield a PaperRecord or a Rejection for every <entry>, with the line it starts on."""
    # The arXiv API never sends a DTD; refusing one rules out entity-expansion attacks.
    if re.search(r"<!(DOCTYPE|ENTITY)", text, re.IGNORECASE):
        raise ImportFormatError("XML with a DOCTYPE or ENTITY declaration is not accepted")
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as error:
        line, column = error.position
        reason = str(error).split(":")[0]
        raise ImportFormatError(
            f"line {line}, column {column + 1}: not well-formed XML ({reason})"
        ) from error
    if root.tag != f"{ATOM}feed":
        raise ImportFormatError(f"expected an Atom <feed>, found <{_local(root.tag)}>")
    entries = root.findall(f"{ATOM}entry")
    refusal = too_many_records(len(entries))
    if refusal:
        raise ImportFormatError(refusal)
    counter = LineCounter(text)
    starts = [counter.line_at(m.start()) for m in re.finditer(r"<entry[\s>]", text)]
    lines = starts if len(starts) == len(entries) else [None] * len(entries)
    for entry, line in zip(entries, lines, strict=True):
        label = _text(entry, f"{ATOM}id").rsplit("/abs/", 1)[-1]
        try:
            depth = _depth(entry)
            if depth > MAX_ENTRY_DEPTH:
                raise RecordRejected(
                    f"elements nested {depth:,} levels deep (at most {MAX_ENTRY_DEPTH})"
                )
            yield _record(entry, line, label)
        except RecordRejected as error:
            yield Rejection(line, label, str(error))


def _depth(element):
    """How many levels of elements `element` holds, itself included (without recursing)."""
    deepest, stack = 0, [(element, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in node)
    return deepest


def _local(tag):
    return tag.rsplit("}", 1)[-1]


def _text(element, path):
    found = element.find(path)
    return " ".join((found.text or "").split()) if found is not None else ""


def _tex(text):
    """arXiv metadata is written in TeX (S\\'eminaire); decode it only where a macro appears,
    so ordinary text with $ or % stays exactly as written."""
    return decode_latex(text) if "\\" in text else text


def _record(entry, line, label):
    title = _tex(_text(entry, f"{ATOM}title"))
    if not title:
        raise RecordRejected("no title")
    warnings = []
    entry_id = _text(entry, f"{ATOM}id")
    arxiv_id = normalise_arxiv_id(entry_id)
    if not arxiv_id:
        warnings.append(f"id: {entry_id!r} is not an arXiv abs URL; no arXiv id")
    published = _text(entry, f"{ATOM}published")
    match = re.match(r"(\d{4})-", published)
    if published and not match:
        warnings.append(f"published: {published!r} is not a date; the year is dropped")
    doi_text = _text(entry, f"{ARXIV}doi")
    # Some entries list several DOIs separated by spaces; the first is the article's.
    doi = normalise_doi(doi_text.split()[0]) if doi_text else ""
    journal_ref = _tex(_text(entry, f"{ARXIV}journal_ref"))
    primary = entry.find(f"{ARXIV}primary_category")
    categories = [primary.get("term")] if primary is not None and primary.get("term") else []
    authors = [_text(author, f"{ATOM}name") for author in entry.findall(f"{ATOM}author")]
    published_version = bool(doi or journal_ref)
    return PaperRecord(
        line=line,
        label=label,
        title=title,
        authors=[a for a in authors if a],
        year=int(match.group(1)) if match else None,
        venue=journal_ref,
        abstract=" ".join(_text(entry, f"{ATOM}summary").split()),
        arxiv_id=arxiv_id,
        doi=doi,
        url=f"https://arxiv.org/abs/{arxiv_id}" if arxiv_id else "",
        entry_type=Paper.EntryType.ARTICLE if published_version else Paper.EntryType.PREPRINT,
        tags=categories,
        warnings=warnings,
    )
