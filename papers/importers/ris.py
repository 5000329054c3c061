"""RIS, as EndNote, Mendeley, Zotero and most publishers' "cite this" buttons export it.

rispy reads the tags of a record (repeated tags as lists, continuation lines joined); the file is
split into records here first, so that each record keeps the line it starts on and a record
without its TY or ER line is still one record instead of being dropped or merged into the next.
"""

import re

import rispy

from core.uploads import too_many_records
from papers.identifiers import normalise_arxiv_id, normalise_doi
from papers.models import Paper

from .base import ImportFormatError, PaperRecord, RecordRejected, Rejection

# "TY  - JOUR"; some exporters write one space or none around the dash.
_TAG = re.compile(r"^([A-Z][A-Z0-9])\s{0,2}-(?: (.*)|\s*)$")

ENTRY_TYPES = {
    "JOUR": Paper.EntryType.ARTICLE,
    "EJOUR": Paper.EntryType.ARTICLE,
    "JFULL": Paper.EntryType.ARTICLE,
    "MGZN": Paper.EntryType.ARTICLE,
    "INPR": Paper.EntryType.ARTICLE,
    "CONF": Paper.EntryType.INPROCEEDINGS,
    "CPAPER": Paper.EntryType.INPROCEEDINGS,
    "BOOK": Paper.EntryType.BOOK,
    "EBOOK": Paper.EntryType.BOOK,
    "EDBOOK": Paper.EntryType.BOOK,
    "CHAP": Paper.EntryType.CHAPTER,
    "ECHAP": Paper.EntryType.CHAPTER,
    "THES": Paper.EntryType.THESIS,
    "RPRT": Paper.EntryType.REPORT,
    "UNPB": Paper.EntryType.PREPRINT,
    "MANSCPT": Paper.EntryType.PREPRINT,
}
# Where each exporter puts the title, the venue and the abstract, most specific first.
TITLE_FIELDS = ("title", "primary_title", "translated_title", "short_title")
VENUE_FIELDS = (
    "journal_name",
    "alternate_title3",  # JF
    "secondary_title",  # T2: journal or book title
    "alternate_title2",  # JA
    "alternate_title1",  # J2
)
AUTHOR_FIELDS = ("authors", "first_authors")
YEAR_FIELDS = ("year", "publication_year", "date")
# rispy's field names back to the tags a user sees in the file (PY, Y1, DA).
_TAG_NAMES = {value: key for key, value in rispy.TAG_KEY_MAPPING.items()}


def looks_like_ris(text):
    """True when the first line that is not blank is a RIS tag line (TY or any other)."""
    for line in text.lstrip("\ufeff").splitlines():
        if line.strip():
            return _TAG.match(line.strip()) is not None
    return False


def parse(text):
    """Yield a PaperRecord or a Rejection for every record, with the line it starts on."""
    records = list(_split(text.lstrip("\ufeff")))
    refusal = too_many_records(len(records))
    if refusal:
        raise ImportFormatError(refusal)
    for line, lines in records:
        try:
            # enforce_list_tags=False: a tag repeated where one is expected (two TI lines, as
            # some exporters write a translated title) gives a list instead of losing one.
            (fields,) = rispy.loads("\n".join(lines), enforce_list_tags=False)
        except (ValueError, TypeError):
            yield Rejection(line, "", "cannot read the record's tags")
            continue
        label = _first(fields, "id")
        try:
            yield _record(fields, line, label)
        except RecordRejected as error:
            yield Rejection(line, label, str(error), key=label)


def _split(text):
    """(start line, tag lines) per record, each with a TY first and an ER last.

    A record starts at TY, or at the first tag after an ER; it ends at ER, at the next TY, or
    at the end of the file.
    """
    current, start, has_type = [], None, False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        match = _TAG.match(line)
        if match is None:
            # A continuation of the previous tag's value; outside a record, noise.
            if current and line.strip():
                current.append(line)
            continue
        tag, value = match.group(1), (match.group(2) or "").strip()
        if tag == "TY" and current:
            yield start, _closed(current, has_type)
            current = []
        if tag == "ER":
            if current:
                yield start, _closed(current, has_type)
            current = []
            continue
        if not current:
            start, has_type = number, tag == "TY"
        current.append(f"{tag}  - {value}")
    if current:
        yield start, _closed(current, has_type)


def _closed(lines, has_type):
    return [*([] if has_type else ["TY  - GEN"]), *lines, "ER  - "]


def _values(fields, name):
    value = fields.get(name)
    if value is None:
        return []
    values = value if isinstance(value, list) else [value]
    return [" ".join(str(v).split()) for v in values if str(v).strip()]


def _first(fields, *names):
    for name in names:
        values = _values(fields, name)
        if values:
            return values[0]
    return ""


def _author(name):
    """RIS writes "Family, Given[, Suffix]"; Assay stores "Given Family[, Suffix]"."""
    parts = [part.strip() for part in name.split(",")]
    if len(parts) == 1:
        return parts[0]
    family, given, *suffix = parts
    full = " ".join(p for p in (given, family) if p)
    return ", ".join([full, *[s for s in suffix if s]])


def _year(fields, warnings):
    for name in YEAR_FIELDS:
        value = _first(fields, name)
        if not value:
            continue
        # "2016", "2016/05/12/", "2016///Spring", "May 2016".
        match = re.search(r"\b(\d{4})\b", value)
        if match:
            return int(match.group(1))
        warnings.append(f"{_TAG_NAMES[name]}: {value!r} is not a year; dropped")
    return None


def _doi(fields, warnings):
    """The DOI from DO (a bare DOI, doi: or a doi.org URL), or from a doi.org link in UR."""
    for value in _values(fields, "doi"):
        doi = normalise_doi(value)
        if doi:
            return doi
        if not normalise_arxiv_id(value):  # an arXiv id in DO is read by _arxiv_id
            warnings.append(f"DO: {value!r} is not a DOI; dropped")
    for url in _values(fields, "urls"):
        if "doi.org/" in url:
            return normalise_doi(url)
    return ""


def _arxiv_id(fields, doi):
    for value in [doi, *_values(fields, "doi")]:
        found = normalise_arxiv_id(value)
        if found:
            return found
    for url in _values(fields, "urls"):
        if "arxiv.org/" in url.lower():
            found = normalise_arxiv_id(url)
            if found:
                return found
    # Zotero and Mendeley write "arXiv: 1706.03762" or "arXiv:1706.03762 [cs]" in a note or
    # the journal field of a preprint.
    notes = [*_values(fields, "notes"), _first(fields, "note"), *_venues(fields)]
    for note in notes:
        match = re.search(r"\barxiv:\s*(\S+)", note, re.IGNORECASE)
        if match and normalise_arxiv_id(match.group(1)):
            return normalise_arxiv_id(match.group(1))
    return ""


def _venues(fields):
    return [value for name in VENUE_FIELDS for value in _values(fields, name)]


def _record(fields, line, label):
    warnings = []
    title = _first(fields, *TITLE_FIELDS)
    if not title:
        raise RecordRejected("no title (TI or T1)")
    authors = [_author(name) for field in AUTHOR_FIELDS for name in _values(fields, field)]
    doi = _doi(fields, warnings)
    arxiv_id = _arxiv_id(fields, doi)
    venues = [v for v in _venues(fields) if not re.match(r"arxiv\b", v, re.IGNORECASE)]
    urls = [u for u in _values(fields, "urls") if re.match(r"https?://", u)]
    reference_type = str(fields.get("type_of_reference") or "").strip().upper()
    keywords = [k for value in _values(fields, "keywords") for k in re.split(r"[;,]", value)]
    return PaperRecord(
        line=line,
        label=label,
        title=title,
        authors=list(dict.fromkeys(a for a in authors if a)),
        year=_year(fields, warnings),
        venue=venues[0] if venues else "",
        abstract=_first(fields, "abstract", "notes_abstract"),
        arxiv_id=arxiv_id,
        doi=doi,
        url=urls[0] if urls else "",
        entry_type=ENTRY_TYPES.get(reference_type, Paper.EntryType.MISC),
        tags=[k.strip() for k in keywords if k.strip()],
        key=label,
        warnings=warnings,
    )
