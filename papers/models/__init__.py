from .intake import TriageItem, Watch
from .notes import PaperNote
from .paper import Paper, ReadingState, Tag
from .passages import Passage
from .pdf import PaperPdf
from .questions import ConclusionRevision, QuestionLink, ResearchQuestion
from .search import IndexState, PaperEmbedding, PassageEmbedding  # search engineer

__all__ = [
    "ConclusionRevision",
    "IndexState",
    "Paper",
    "PaperEmbedding",
    "PaperNote",
    "PaperPdf",
    "Passage",
    "PassageEmbedding",
    "QuestionLink",
    "ReadingState",
    "ResearchQuestion",
    "Tag",
    "TriageItem",
    "Watch",
]
