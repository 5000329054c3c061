from .notes import PaperNote
from .paper import Paper, ReadingState, Tag
from .questions import ConclusionRevision, QuestionLink, ResearchQuestion
from .search import IndexState, PaperEmbedding, SearchDocument  # search engineer

__all__ = [
    "ConclusionRevision",
    "Paper",
    "PaperNote",
    "QuestionLink",
    "ReadingState",
    "ResearchQuestion",
    "Tag",
]
