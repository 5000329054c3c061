"""When two records are one paper, and finding the papers that already are.

The rules (issue 3): the same arXiv id in any version, or the same DOI, is the same paper. Failing
that, the same normalised title with an author surname in common and years at most one apart is
the same paper, unless both have DOIs (or both arXiv ids) and they differ. An arXiv preprint and
its published version share a title and authors but the preprint may be a few years older, so that
pair gets a wider year window; merging them keeps both identifiers. Where neither record has
authors (or neither a year), that part of the rule compares equal, so re-importing such a record
finds it again.
"""

from django.db import transaction

from .models import Paper
from .models.paper import PREPRINT_PUBLICATION_LAG_YEARS


def _is_published(paper):
    return bool(paper.doi) or (bool(paper.venue) and not paper.arxiv_id)


def _years_compatible(a, b):
    if a.year is None or b.year is None:
        # Two undated records of one title may be one work; one dated and one not, unknown.
        return a.year is None and b.year is None
    if abs(a.year - b.year) <= 1:
        return True
    preprint, published = (a, b) if a.year < b.year else (b, a)
    return (
        preprint.is_preprint
        and _is_published(published)
        and not published.arxiv_id
        and published.year - preprint.year <= PREPRINT_PUBLICATION_LAG_YEARS
    )


def same_paper_by_title(a, b):
    """True when `a` and `b` (Papers, saved or not) are one paper by the title rule."""
    if not a.title_key or a.title_key != b.title_key:
        return False
    if a.doi and b.doi and a.doi != b.doi:
        return False
    if a.arxiv_id and b.arxiv_id and a.arxiv_id != b.arxiv_id:
        return False
    if a.authors or b.authors:
        if not a.surnames & b.surnames:
            return False
    # Author-less works (manuals, journals, web sites) can only be told apart by title and year.
    return _years_compatible(a, b)


def find_matches(candidate):
    """Saved papers that are the same paper as `candidate` (an unsaved Paper), oldest first.

    Identifier matches are certain; the title rule is only consulted when there are none.
    """
    by_identifier = Paper.objects.none()
    if candidate.arxiv_id:
        by_identifier |= Paper.objects.filter(arxiv_id=candidate.arxiv_id)
    if candidate.doi:
        by_identifier |= Paper.objects.filter(doi=candidate.doi)
    matches = list(by_identifier.exclude(pk=candidate.pk).order_by("pk"))
    if matches:
        return matches
    return [
        paper
        for paper in Paper.objects.with_title_key(candidate.title_key)
        .exclude(pk=candidate.pk)
        .order_by("pk")
        if same_paper_by_title(candidate, paper)
    ]


# What each way of being the same paper is called where a user is told about a match.
MATCH_RULES = {
    "arxiv_id": "the same arXiv id",
    "doi": "the same DOI",
    None: "the same title, an author in common and a close year",
}


def matched_by(candidate, match):
    """The identifier field ("arxiv_id", "doi") `match` shares with `candidate`, or None when
    it is the same paper by the title rule; MATCH_RULES names each."""
    for field in ("arxiv_id", "doi"):
        if getattr(candidate, field) and getattr(match, field) == getattr(candidate, field):
            return field
    return None


def find_duplicate_groups():
    """Groups of saved papers that are one paper by the title rule, oldest paper first.

    Identifier duplicates cannot exist in the database: arXiv id and DOI are unique there.
    """
    groups = []
    for title_key in Paper.objects.duplicate_title_keys():
        remaining = list(Paper.objects.with_title_key(title_key).order_by("pk"))
        while remaining:
            keep, rest = remaining[0], remaining[1:]
            group = [keep] + [p for p in rest if same_paper_by_title(keep, p)]
            if len(group) > 1:
                groups.append(group)
            remaining = [p for p in rest if p not in group]
    return groups


@transaction.atomic
def merge_group(group):
    """Merge every paper of `group` into its first; returns the paper kept."""
    keep = group[0]
    for other in group[1:]:
        other.merge_into(keep)
    return keep
