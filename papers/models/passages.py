from django.db import models


class Passage(models.Model):
    """A stretch of a paper's full text (from its PDF), with the page it is on.

    Search indexes passages (keyword and embedding) so a hit can show the sentence that matched
    and open the PDF at that page; research-question evidence can cite one.
    """

    paper = models.ForeignKey("papers.Paper", on_delete=models.CASCADE, related_name="passages")
    page = models.PositiveIntegerField(help_text="1-based page number in the paper's PDF")
    ordinal = models.PositiveIntegerField(help_text="position of the passage in the paper")
    text = models.TextField()

    class Meta:
        ordering = ["paper", "ordinal"]
        constraints = [
            models.UniqueConstraint(
                fields=["paper", "ordinal"], name="papers_passage_ordinal_unique"
            )
        ]

    def __str__(self):
        return f"{self.paper_id} p.{self.page} #{self.ordinal}"
