from .notes import PaperNote
from .paper import Paper, ReadingState, Tag
from .passages import Passage
from .questions import ConclusionRevision, QuestionLink, ResearchQuestion
from .search import IndexState, PaperEmbedding  # search engineer

__all__ = [
    "ConclusionRevision",
    "IndexState",
    "Paper",
    "PaperEmbedding",
    "PaperNote",
    "Passage",
    "QuestionLink",
    "ReadingState",
    "ResearchQuestion",
    "Tag",
]
