"""Papers out as BibTeX or CSL-JSON; both import back into Assay as the same papers."""

import json
import re
import unicodedata
from dataclasses import dataclass

import bibtexparser
from bibtexparser.model import Entry, Field
from bibtexparser.writer import BibtexFormat
from pylatexenc.latexencode import (
    RULE_DICT,
    UnicodeToLatexConversionRule,
    UnicodeToLatexEncoder,
)

from .identifiers import fold, surname
from .importers.csl_json import CSL_TYPES
from .models import Paper

BIBTEX_TYPES = {
    Paper.EntryType.ARTICLE: ("article", "journal"),
    Paper.EntryType.INPROCEEDINGS: ("inproceedings", "booktitle"),
    Paper.EntryType.PREPRINT: ("misc", "howpublished"),
    Paper.EntryType.BOOK: ("book", "howpublished"),
    Paper.EntryType.CHAPTER: ("incollection", "booktitle"),
    Paper.EntryType.THESIS: ("phdthesis", "school"),
    Paper.EntryType.REPORT: ("techreport", "institution"),
    Paper.EntryType.MISC: ("misc", "howpublished"),
}
_MATH = re.compile(r"(\$[^$]*\$)")
_VALID_KEY = re.compile(r"^[A-Za-z0-9_:./+\-]+$")
# Where pylatexenc's LaTeX reads back as another character: a straight double quote (it writes
# '', a closing quote) and the Unicode hyphen (it writes -) stay themselves.
_AS_WRITTEN = {ord('"'): '{"}', 0x2010: "\u2010"}
# Every replacement braced: BibTeX's name splitting would otherwise read \~a as a tie and \'E
# as a lower-case "von" part.
_latex = UnicodeToLatexEncoder(
    conversion_rules=[UnicodeToLatexConversionRule(RULE_DICT, _AS_WRITTEN), "defaults"],
    replacement_latex_protection="braces-all",
    unknown_char_warning=False,
)
_BIBTEX_FORMAT = BibtexFormat()
_BIBTEX_FORMAT.indent = "  "
_BIBTEX_FORMAT.block_separator = "\n"


def _latex_escape(text):
    """Plain text as BibTeX that decodes back to the same text; $...$ math stays as written."""
    # Hand-written split: pylatexenc encodes text, and math is kept verbatim on import too.
    # Composed first (NFC): pylatexenc writes a letter and its combining accent as one.
    pieces = _MATH.split(unicodedata.normalize("NFC", text or ""))
    return "".join(
        piece if index % 2 else _latex.unicode_to_latex(piece) for index, piece in enumerate(pieces)
    )


def _keys(papers):
    """A citation key per paper: its own when it is usable and unique, else Surname+Year+Word."""
    used, keys = set(), {}
    for paper in papers:
        key = paper.bibtex_key if _VALID_KEY.match(paper.bibtex_key or "") else ""
        if not key or key.lower() in used:
            first_word = next((w for w in fold(paper.title).split() if len(w) > 3), "paper")
            author = surname(paper.authors[0]) if paper.authors else "anon"
            base = f"{author.capitalize()}{paper.year or ''}{first_word}"
            key, suffix = base, 1
            while key.lower() in used:
                suffix += 1
                key = f"{base}{suffix}"
        used.add(key.lower())
        keys[paper.pk] = key
    return keys


def _bibtex_entry(paper, key):
    entry_type, venue_field = BIBTEX_TYPES.get(paper.entry_type, ("misc", "howpublished"))
    authors = " and ".join(
        # A comma in a stored name ("Henry Ford, Jr.") would be read as "Last, First".
        f"{{{_latex_escape(name)}}}" if "," in name else _latex_escape(name)
        for name in paper.authors
    )
    fields = [
        # Braced twice: BibTeX styles keep the title's capitals as written.
        ("title", f"{{{_latex_escape(paper.title)}}}"),
        ("author", authors),
        ("year", str(paper.year or "")),
        (venue_field, _latex_escape(paper.venue)),
        # Verbatim fields: only what the BibTeX reader would take for markup is escaped.
        ("doi", paper.doi.replace("_", r"\_")),
        ("eprint", paper.arxiv_id),
        ("archiveprefix", "arXiv" if paper.arxiv_id else ""),
        ("url", paper.url.replace("%", r"\%").replace("#", r"\#")),
        ("abstract", _latex_escape(paper.abstract)),
        ("keywords", _latex_escape(", ".join(tag.name for tag in paper.tags.all()))),
    ]
    return Entry(entry_type, key, [Field(name, value) for name, value in fields if value])


def export_bibtex(papers):
    papers = list(papers.prefetch_related("tags"))
    keys = _keys(papers)
    library = bibtexparser.Library([_bibtex_entry(paper, keys[paper.pk]) for paper in papers])
    return bibtexparser.write_string(library, bibtex_format=_BIBTEX_FORMAT)


def _csl_name(name):
    given, _, family = name.rpartition(" ")
    return {"given": given, "family": family} if given else {"literal": name}


def _csl_item(paper, key):
    item = {
        "id": key,
        "citation-key": key,
        "type": CSL_TYPES.get(paper.entry_type, "document"),
        "title": paper.title,
        "author": [_csl_name(name) for name in paper.authors],
    }
    optional = {
        "issued": {"date-parts": [[paper.year]]} if paper.year else None,
        "container-title": paper.venue,
        "DOI": paper.doi,
        "URL": paper.url,
        "abstract": paper.abstract,
        # CSL has no arXiv variable; Zotero and Better BibTeX keep it in the note like this.
        "note": f"arXiv: {paper.arxiv_id}" if paper.arxiv_id else "",
        "keyword": ", ".join(tag.name for tag in paper.tags.all()),
    }
    item.update({name: value for name, value in optional.items() if value})
    return item


def export_csl_json(papers):
    papers = list(papers.prefetch_related("tags"))
    keys = _keys(papers)
    items = [_csl_item(paper, keys[paper.pk]) for paper in papers]
    return json.dumps(items, ensure_ascii=False, indent=2) + "\n"


@dataclass(frozen=True)
class Exporter:
    label: str
    export: object
    content_type: str
    extension: str


EXPORTERS = {
    "bibtex": Exporter("BibTeX", export_bibtex, "application/x-bibtex; charset=utf-8", "bib"),
    "csl-json": Exporter("CSL-JSON", export_csl_json, "application/json; charset=utf-8", "json"),
}
