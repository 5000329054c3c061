"""BibTeX and biblatex files, as reference managers write them.

bibtexparser v2 splits the file into blocks and keeps each entry's start line; the field values
are resolved here rather than by its middlewares, because v2 leaves `#` concatenation unresolved
(`dtv # { and Walter de Gruyter}` stays literal). pylatexenc then turns LaTeX into Unicode.
"""

import re

import bibtexparser
from bibtexparser.middlewares.names import (
    InvalidNameError,
    parse_single_name_into_parts,
    split_multiple_persons_names,
)
from bibtexparser.model import (
    DuplicateBlockKeyBlock,
    DuplicateFieldKeyBlock,
    Entry,
    ParsingFailedBlock,
)

from core.uploads import too_many_records
from papers.identifiers import normalise_arxiv_id, normalise_doi
from papers.models import Paper

from .base import (
    ImportFormatError,
    PaperRecord,
    RecordRejected,
    Rejection,
    decode_latex,
    strip_braces,
)

MONTHS = {
    "jan": "January", "feb": "February", "mar": "March", "apr": "April", "may": "May",
    "jun": "June", "jul": "July", "aug": "August", "sep": "September", "oct": "October",
    "nov": "November", "dec": "December",
}  # fmt: skip

ENTRY_TYPES = {
    "article": Paper.EntryType.ARTICLE,
    "inproceedings": Paper.EntryType.INPROCEEDINGS,
    "conference": Paper.EntryType.INPROCEEDINGS,
    "book": Paper.EntryType.BOOK,
    "mvbook": Paper.EntryType.BOOK,
    "collection": Paper.EntryType.BOOK,
    "mvcollection": Paper.EntryType.BOOK,
    "proceedings": Paper.EntryType.BOOK,
    "incollection": Paper.EntryType.CHAPTER,
    "inbook": Paper.EntryType.CHAPTER,
    "phdthesis": Paper.EntryType.THESIS,
    "mastersthesis": Paper.EntryType.THESIS,
    "thesis": Paper.EntryType.THESIS,
    "techreport": Paper.EntryType.REPORT,
    "report": Paper.EntryType.REPORT,
}
# Entry types that group or feed other entries and are not papers themselves.
NOT_PAPERS = {
    "set": "a @set entry only groups other entries",
    "xdata": "an @xdata entry only holds fields other entries inherit",
}
# The fields read from an entry; only these have their macros resolved, so an undefined macro
# in a field nobody uses (a BibDesk "Nomonth") does not reject the entry.
USED_FIELDS = {
    "title", "subtitle", "author", "editor", "year", "date", "journal", "journaltitle",
    "booktitle", "school", "institution", "abstract", "doi", "url", "eprint", "eprinttype",
    "archiveprefix", "keywords", "crossref", "xdata", "month", "howpublished",
}  # fmt: skip
_ARXIV_VENUE = re.compile(r"^(arxiv\b|corr$|arxiv preprint)", re.IGNORECASE)
_YEAR = re.compile(r"^\s*(\d{4})(?:[-/].*)?\s*$")
# Real fields nest braces a few levels ({\"{o}}, {{ACM SIGMOD}}); the LaTeX decoder recurses
# per level, so hundreds of levels would end in RecursionError rather than a rejection.
MAX_BRACE_DEPTH = 32


def looks_like_bibtex(text):
    return re.search(r"^\s*@\s*[a-zA-Z]+\s*[{(]", text, re.MULTILINE) is not None


def parse(text):
    """Yield a PaperRecord or a Rejection for every entry of the file, in file order."""
    library = bibtexparser.parse_string(text, parse_stack=[])
    strings = {}
    for string in library.strings:
        try:
            strings[string.key.lower()] = _resolve(string.value, strings, f"@string {string.key}")
        except RecordRejected:
            # An @string that uses an undefined macro only matters if an entry uses it.
            continue
    entries = {entry.key.lower(): entry for entry in library.entries}
    items = [b for b in library.blocks if isinstance(b, Entry | ParsingFailedBlock)]
    refusal = too_many_records(len(items))
    if refusal:
        raise ImportFormatError(refusal)
    for block in sorted(items, key=lambda b: b.start_line or 0):
        line = (block.start_line or 0) + 1
        if isinstance(block, DuplicateBlockKeyBlock | DuplicateFieldKeyBlock):
            # bibtexparser still read the entry: a repeated key is reported as a duplicate by
            # the importer, a repeated field keeps its first value (with a warning).
            block = block.ignore_error_block
        if isinstance(block, ParsingFailedBlock):
            yield Rejection(line, "", _failure_reason(block))
            continue
        try:
            yield _record(block, line, strings, entries)
        except RecordRejected as error:
            yield Rejection(line, block.key, str(error), key=block.key)


def _failure_reason(block):
    error = block.error
    reason = getattr(error, "abort_reason", "") or str(error) or "malformed entry"
    return f"malformed BibTeX: {' '.join(reason.split())}"


def _brace_depth(raw):
    depth = deepest = 0
    for char in re.findall(r"[{}]", raw):
        depth += 1 if char == "{" else -1
        deepest = max(deepest, depth)
    return deepest


def _split_concatenation(raw):
    """The parts of a field value joined by top-level `#`."""
    parts, depth, quoted, start = [], 0, False, 0
    for index, char in enumerate(raw):
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif char == '"' and depth == 0 and (index == 0 or raw[index - 1] != "\\"):
            quoted = not quoted
        elif char == "#" and depth == 0 and not quoted:
            parts.append(raw[start:index])
            start = index + 1
    parts.append(raw[start:])
    return [part.strip() for part in parts]


def _resolve(raw, strings, where):
    """A raw field value with `#` joins, @string macros and month macros resolved (still LaTeX)."""
    pieces = []
    for part in _split_concatenation(raw):
        if len(part) >= 2 and (part[0], part[-1]) in {("{", "}"), ('"', '"')}:
            pieces.append(part[1:-1])
        elif part.isdigit():
            pieces.append(part)
        elif part.lower() in strings:
            pieces.append(strings[part.lower()])
        elif part.lower() in MONTHS:
            pieces.append(MONTHS[part.lower()])
        else:
            raise RecordRejected(f"{where}: undefined @string macro {part!r}")
    return "".join(pieces)


def _fields(entry, strings, entries, warnings):
    """The used fields of `entry`, resolved, with crossref/xdata parents' fields inherited.

    A field that cannot be read is left out with a warning; only an unreadable title rejects
    the entry (raises RecordRejected).
    """
    raw = {}
    for field in entry.fields:
        key = field.key.lower()
        if key not in USED_FIELDS:
            continue
        if key in raw:
            warnings.append(f"field {key}: appears more than once; the first value is kept")
            continue
        try:
            depth = _brace_depth(field.value)
            if depth > MAX_BRACE_DEPTH:
                raise RecordRejected(
                    f"field {key}: braces nested {depth:,} levels deep (at most {MAX_BRACE_DEPTH})"
                )
            raw[key] = _resolve(field.value, strings, f"field {key}")
        except RecordRejected as error:
            if key == "title":
                raise
            warnings.append(f"{error}; dropped")
    for parent_field in ("crossref", "xdata"):
        for parent_key in raw.get(parent_field, "").split(","):
            parent = entries.get(parent_key.strip().lower())
            if parent is None or parent is entry:
                continue
            # A parent's own unreadable fields are reported on the parent's line, not here.
            inherited = _fields(parent, strings, {}, [])
            # biblatex: a parent's title is the child's booktitle (the collection it is in).
            if "title" in inherited and "booktitle" not in raw and parent_field == "crossref":
                raw["booktitle"] = inherited["title"]
            for key, value in inherited.items():
                if key not in {"title", "subtitle", "crossref", "xdata"}:
                    raw.setdefault(key, value)
    return raw


def _authors(latex, where, warnings):
    names = []
    for name in split_multiple_persons_names(latex):
        if name.strip().lower() == "others":
            continue
        try:
            parts = parse_single_name_into_parts(name, strict=True)
        except InvalidNameError as error:
            warnings.append(f"{where}: cannot read the name {name!r} ({error}); dropped")
            continue
        words = [*parts.first, *parts.von, *parts.last]
        full = decode_latex(" ".join(words))
        if parts.jr:
            full += ", " + decode_latex(" ".join(parts.jr))
        if full:
            names.append(full)
    return names


def _year(fields, warnings):
    for key in ("year", "date"):
        value = decode_latex(fields.get(key, ""))
        if not value:
            continue
        match = _YEAR.match(value)
        if not match:
            warnings.append(f"field {key}: {value!r} is not a year (expected e.g. 2016); dropped")
            continue
        return int(match.group(1))
    return None


def _record(entry, line, strings, entries):
    entry_type = entry.entry_type.lower()
    if entry_type in NOT_PAPERS:
        raise RecordRejected(f"{NOT_PAPERS[entry_type]}; it is not a paper")
    warnings = []
    fields = _fields(entry, strings, entries, warnings)
    title = decode_latex(fields.get("title", ""))
    if not title:
        raise RecordRejected("no title")
    if fields.get("subtitle"):
        title = f"{title}: {decode_latex(fields['subtitle'])}"
    people = fields.get("author") or fields.get("editor") or ""
    authors = _authors(people, "field author", warnings) if people else []

    venue = decode_latex(
        fields.get("journal")
        or fields.get("journaltitle")
        or fields.get("booktitle")
        or fields.get("school")
        or fields.get("institution")
        or fields.get("howpublished")
        or ""
    )
    url = strip_braces(fields.get("url", ""))
    doi_field = strip_braces(fields.get("doi", ""))
    doi = normalise_doi(doi_field)
    if doi_field and not doi and not normalise_arxiv_id(doi_field):
        warnings.append(f"field doi: {doi_field!r} is not a DOI; dropped")
    if not doi and "doi.org/" in url:
        doi = normalise_doi(url)
    arxiv_id = _arxiv_id(fields, venue, url) or normalise_arxiv_id(doi_field)
    if _ARXIV_VENUE.match(venue):
        venue = ""
    keywords = re.split(r"[,;]", decode_latex(fields.get("keywords", "")))
    return PaperRecord(
        line=line,
        label=entry.key,
        title=title,
        authors=authors,
        year=_year(fields, warnings),
        venue=venue,
        abstract=decode_latex(fields.get("abstract", "")),
        arxiv_id=arxiv_id,
        doi=doi,
        url=url,
        bibtex_key=entry.key,
        entry_type=ENTRY_TYPES.get(entry_type, Paper.EntryType.MISC),
        tags=[k for k in keywords if k.strip()],
        key=entry.key,
        warnings=warnings,
    )


def _arxiv_id(fields, venue, url):
    eprint = strip_braces(fields.get("eprint", ""))
    eprint_type = decode_latex(fields.get("eprinttype", "") or fields.get("archiveprefix", ""))
    if eprint and (eprint_type.lower() == "arxiv" or not eprint_type):
        found = normalise_arxiv_id(eprint)
        if found:
            return found
    if "arxiv.org/" in url:
        return normalise_arxiv_id(url)
    # "arXiv:1412.4320 [cs]" in the journal field, as Zotero exports preprints.
    match = re.match(r"arxiv:\s*(\S+)", venue, re.IGNORECASE)
    return normalise_arxiv_id(match.group(1)) if match else ""
