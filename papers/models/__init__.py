from .notes import PaperNote
from .paper import Paper, ReadingState, Tag
from .questions import ConclusionRevision, QuestionLink, ResearchQuestion
from .search import IndexState, PaperEmbedding, SearchDocument  # search engineer

__all__ = [
    "ConclusionRevision",
    "IndexState",
    "Paper",
    "PaperEmbedding",
    "PaperNote",
    "QuestionLink",
    "ReadingState",
    "ResearchQuestion",
    "SearchDocument",
    "Tag",
]
