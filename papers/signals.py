"""Tell search when the text it ranks changes: papers, their tags, notes, passages, question
links and conclusions. Handlers only collect paper ids; papers.tasks does the work after commit."""

from django.db.models.signals import m2m_changed, post_delete, post_save

from .models import Paper, PaperNote, Passage, QuestionLink, ResearchQuestion
from .tasks import papers_changed


def paper_saved_or_deleted(sender, instance, **kwargs):
    papers_changed([instance.pk])


def paper_tags_changed(sender, instance, action, pk_set, **kwargs):
    if not action.startswith("post_"):
        return
    # From the tag's side `instance` is a Tag and `pk_set` the papers.
    papers_changed([instance.pk] if isinstance(instance, Paper) else (pk_set or ()))


def part_of_paper_changed(sender, instance, **kwargs):
    if instance.paper_id:  # evidence may cite an experiment, a run or a technique instead
        papers_changed([instance.paper_id])


def question_changed(sender, instance, **kwargs):
    papers_changed(instance.evidence.filter(paper__isnull=False).values_list("paper_id", flat=True))


def connect():
    uid = "papers-search-{}".format
    for signal in (post_save, post_delete):
        signal.connect(paper_saved_or_deleted, sender=Paper, dispatch_uid=uid("paper"))
        for model in (PaperNote, Passage, QuestionLink):
            signal.connect(part_of_paper_changed, sender=model, dispatch_uid=uid(model.__name__))
    # A deleted question's links cascade, and each link's post_delete reports its paper.
    post_save.connect(question_changed, sender=ResearchQuestion, dispatch_uid=uid("question"))
    m2m_changed.connect(paper_tags_changed, sender=Paper.tags.through, dispatch_uid=uid("tags"))
