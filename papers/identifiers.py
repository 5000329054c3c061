"""Normalised forms of paper identifiers, titles and author names.

Everything that compares papers (dedupe on import, the database's unique constraints) compares
these forms, so two spellings of one identifier can never give two papers.
"""

import re
import unicodedata
from urllib.parse import unquote

# New-style ids (0704.0001 onwards: YYMM.NNNN or YYMM.NNNNN) and old-style ones (hep-th/9901001,
# math.GT/0309136), each optionally followed by a version.
_ARXIV_NEW = r"\d{4}\.\d{4,5}"
_ARXIV_OLD = r"[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7}"
_ARXIV_ID = re.compile(rf"(?P<id>{_ARXIV_NEW}|{_ARXIV_OLD})(?:v\d+)?", re.IGNORECASE)
_ARXIV_PREFIXES = re.compile(
    r"^(?:https?://(?:export\.|www\.)?arxiv\.org/(?:abs|pdf|html)/|arxiv:\s*|"
    r"(?:https?://(?:dx\.)?doi\.org/)?10\.48550/arxiv\.)",
    re.IGNORECASE,
)
_DOI_PREFIXES = re.compile(
    r"^(?:https?://(?:dx\.|www\.)?doi\.org/|doi:\s*|info:doi/)", re.IGNORECASE
)
_DOI = re.compile(r"^10\.\d{4,9}/\S+$")
_ARXIV_DOI = re.compile(r"^10\.48550/arxiv\.(?P<id>.+)$", re.IGNORECASE)


def normalise_arxiv_id(value):
    """The bare arXiv id ("1506.02640", "hep-th/9901001") without version, or "" if none.

    Accepts ids with or without a version, "arXiv:" prefixes, abs/pdf URLs and the DataCite
    DOI arXiv assigns (10.48550/arXiv.1506.02640).
    """
    text = (value or "").strip()
    text = _ARXIV_PREFIXES.sub("", text)
    text = re.sub(r"\.pdf$", "", text, flags=re.IGNORECASE)
    match = _ARXIV_ID.fullmatch(text)
    if not match:
        return ""
    found = match.group("id")
    # Old-style archive names are lower case, their subject classes upper case (math.GT).
    if "/" in found:
        archive, number = found.split("/", 1)
        name, _, subject = archive.partition(".")
        return f"{name.lower()}{'.' + subject.upper() if subject else ''}/{number}"
    return found


def normalise_doi(value):
    """A DOI in lower case without resolver prefix, or "" if `value` is not a DOI.

    DOIs are case-insensitive by definition. Old Wiley DOIs contain `<`, `>` and `;`, so
    those stay; a doi.org URL percent-encodes them, so URLs are decoded first.
    """
    text = (value or "").strip()
    if not text:
        return ""
    if "%" in text:
        text = unquote(text)
    text = _DOI_PREFIXES.sub("", text).strip().rstrip(".")
    text = text.lower()
    return text if _DOI.match(text) else ""


def arxiv_id_from_doi(doi):
    """The arXiv id inside one of arXiv's own DOIs (10.48550/arXiv.X), or ""."""
    match = _ARXIV_DOI.match(normalise_doi(doi))
    return normalise_arxiv_id(match.group("id")) if match else ""


def split_identifiers(doi="", arxiv_id=""):
    """(doi, arxiv_id), both normalised; an arXiv DOI becomes the arXiv id, not the DOI.

    arXiv's DOI names the preprint itself, so keeping it as the paper's DOI would make a
    preprint and its published version look like two papers with different DOIs.
    """
    doi = normalise_doi(doi)
    arxiv_id = normalise_arxiv_id(arxiv_id)
    from_doi = arxiv_id_from_doi(doi)
    if from_doi:
        return "", arxiv_id or from_doi
    return doi, arxiv_id


def fold(text):
    """Lower case ASCII letters and digits only: accents removed, punctuation to spaces."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    ascii_text = decomposed.encode("ascii", "ignore").decode("ascii").lower()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", ascii_text).split())


# The length of Paper.title_key, the column that holds normalise_title().
TITLE_KEY_LENGTH = 500


def clean_title(title):
    """The title as stored: runs of white space (line breaks of a wrapped title) as one space."""
    return " ".join((title or "").split())


def normalise_title(title):
    """The title as compared by dedupe: folded, braces and punctuation ignored."""
    return fold(title)[:TITLE_KEY_LENGTH]


def surname(author):
    """The family name of an author written "Given Family" (the form Paper.authors holds)."""
    words = fold(author).split()
    return words[-1] if words else ""
