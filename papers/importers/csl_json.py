"""CSL-JSON, as Zotero, Manubot and citation.js write it: a list of items."""

import datetime
import html
import json
import re

import nh3

from core.uploads import LineCounter, too_many_records
from papers.identifiers import normalise_arxiv_id, normalise_doi
from papers.models import Paper

from .base import ImportFormatError, PaperRecord, RecordRejected, Rejection

ENTRY_TYPES = {
    "article-journal": Paper.EntryType.ARTICLE,
    "article": Paper.EntryType.PREPRINT,
    "paper-conference": Paper.EntryType.INPROCEEDINGS,
    "book": Paper.EntryType.BOOK,
    "chapter": Paper.EntryType.CHAPTER,
    "thesis": Paper.EntryType.THESIS,
    "report": Paper.EntryType.REPORT,
}
CSL_TYPES = {value: key for key, value in ENTRY_TYPES.items()}
CSL_TYPES[Paper.EntryType.MISC] = "document"


_SEPARATORS = re.compile(r"[\s,]*")


def looks_like_csl_json(text):
    return text.lstrip().startswith(("[", "{"))


def parse(text):
    """Yield a PaperRecord or a Rejection for every item, with the line each item starts on."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ImportFormatError(
            f"line {error.lineno}, column {error.colno}: not valid JSON ({error.msg})"
        ) from error
    except RecursionError:
        # Python's decoder recurses per level; a file of nested brackets is no bibliography.
        raise ImportFormatError("the JSON is nested too deeply to read") from None
    if isinstance(data, dict):
        # A single item, or Zotero's API envelope {"items": [...]}.
        data = data.get("items", [data])
    if not isinstance(data, list):
        raise ImportFormatError("CSL-JSON must be a list of items")
    if data and not any(isinstance(i, dict) and ("type" in i or "title" in i) for i in data):
        raise ImportFormatError("this JSON is not CSL-JSON: no item has a 'type' or 'title'")
    refusal = too_many_records(len(data))
    if refusal:
        raise ImportFormatError(refusal)
    for index, (item, line) in enumerate(zip(data, _item_lines(text, len(data)), strict=True)):
        label = str(item.get("id", "")) if isinstance(item, dict) else ""
        try:
            if not isinstance(item, dict):
                raise RecordRejected(f"item {index + 1} is not an object")
            yield _record(item, line, label)
        except RecordRejected as error:
            yield Rejection(line, label, str(error), key=label)


def _item_lines(text, count):
    """The line on which each top-level list item starts (None where it cannot be told)."""
    decoder = json.JSONDecoder()
    start = text.find("[")
    if start < 0:
        return [1] * count
    lines, position, counter = [], start + 1, LineCounter(text)
    for _ in range(count):
        position = _SEPARATORS.match(text, position).end()
        lines.append(counter.line_at(position))
        _value, position = decoder.raw_decode(text, position)
    return lines


def _text(value):
    return " ".join(str(value or "").split())


def _strip_markup(markup):
    """JATS or HTML in an abstract to plain text: every tag removed, entities decoded."""
    if "<" not in markup and "&" not in markup:
        # Plain text (most titles, every empty abstract) needs no sanitiser: the same result,
        # and a large file no longer spends most of its time in nh3.
        return _plain_lines(markup)
    markup = re.sub(r"<jats:title>\s*Abstract\s*</jats:title>", "", markup, flags=re.I)
    # Paragraphs, sections and their titles end with a line break, so they stay apart.
    markup = re.sub(r"</(?:jats:)?(?:p|sec|title)>", "\n", markup)
    return _plain_lines(html.unescape(nh3.clean(markup, tags=set())))


def _plain_lines(text):
    return "\n".join(" ".join(line.split()) for line in text.splitlines() if line.strip())


def _year(item, warnings):
    """The year issued, or None with a warning saying why the date cannot be read."""
    try:
        return _issued_year(item)
    except RecordRejected as error:
        warnings.append(f"{error}; the year is dropped")
        return None


def _issued_year(item):
    issued = item.get("issued")
    if issued in (None, {}, ""):
        return None
    if not isinstance(issued, dict):
        raise RecordRejected(f"issued: expected an object with date-parts, got {issued!r}")
    if "date-parts" not in issued:
        literal = str(issued.get("raw") or issued.get("literal") or "")
        match = re.search(r"\b(\d{4})\b", literal)
        if match:
            return int(match.group(1))
        raise RecordRejected(f"issued: no date-parts and no year in {issued!r}")
    parts_list = issued["date-parts"]
    if not isinstance(parts_list, list) or not parts_list or not isinstance(parts_list[0], list):
        raise RecordRejected(f"issued: date-parts must be a list of lists, got {parts_list!r}")
    parts = parts_list[0]
    if not 1 <= len(parts) <= 3:
        raise RecordRejected(f"issued: a date has 1 to 3 parts (year, month, day), got {parts!r}")
    try:
        numbers = [int(part) for part in parts]
    except (TypeError, ValueError) as error:
        raise RecordRejected(f"issued: {parts!r} is not a date of whole numbers") from error
    year, month, day = (numbers + [1, 1])[:3]
    try:
        datetime.date(year, month, day)
    except ValueError as error:
        raise RecordRejected(f"issued: {parts!r} is not a valid date ({error})") from error
    return year


def _authors(item, warnings):
    people = item.get("author") or []
    if not isinstance(people, list):
        warnings.append(f"author: expected a list of names, got {people!r}; dropped")
        return []
    names = []
    for person in people:
        if not isinstance(person, dict):
            warnings.append(f"author: expected a name object, got {person!r}; dropped")
            continue
        if person.get("literal"):
            names.append(_text(person["literal"]))
            continue
        parts = [person.get("given"), person.get("non-dropping-particle"), person.get("family")]
        name = _text(" ".join(str(p) for p in parts if p))
        if name:
            names.append(name)
    return names


def _arxiv_id(item, url):
    if "arxiv.org/" in url.lower():
        return normalise_arxiv_id(url)
    container = f"{item.get('container-title', '')} {item.get('publisher', '')}".lower()
    if "arxiv" in container:
        return normalise_arxiv_id(str(item.get("number") or ""))
    # Manubot ("standard_id: arxiv:X") and Zotero ("arXiv: X") keep the id in the note.
    match = re.search(r"\barxiv:\s*(\S+)", str(item.get("note", "")), re.I)
    return normalise_arxiv_id(match.group(1)) if match else ""


def _record(item, line, label):
    # CSL titles may carry rich-text markup (<i>MYCN</i>, <span class="nocase">).
    title = _text(_strip_markup(str(item.get("title") or "")))
    if not title:
        raise RecordRejected("no title")
    warnings = []
    url = _text(item.get("URL"))
    doi_value = _text(item.get("DOI"))
    doi = normalise_doi(doi_value)
    if doi_value and not doi:
        warnings.append(f"DOI: {doi_value!r} is not a DOI; dropped")
    arxiv_id = _arxiv_id(item, url)
    venue = _text(item.get("container-title"))
    if venue.lower() == "arxiv":
        venue = ""
    keywords = item.get("keyword") or ""
    return PaperRecord(
        line=line,
        label=label,
        title=title,
        authors=_authors(item, warnings),
        year=_year(item, warnings),
        venue=venue,
        abstract=_strip_markup(str(item.get("abstract") or "")),
        arxiv_id=arxiv_id,
        doi=doi,
        url=url,
        bibtex_key=_text(item.get("citation-key")),
        entry_type=ENTRY_TYPES.get(item.get("type"), Paper.EntryType.MISC),
        tags=[k for k in re.split(r"[,;]", str(keywords)) if k.strip()],
        key=label,
        warnings=warnings,
    )
