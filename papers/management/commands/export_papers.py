from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from papers.exporters import EXPORTERS
from papers.models import Paper


class Command(BaseCommand):
    help = (
        "Export every paper as BibTeX or CSL-JSON, to stdout or --output FILE. "
        "The output imports back into Assay as the same papers."
    )

    def add_arguments(self, parser):
        parser.add_argument("--format", required=True, choices=sorted(EXPORTERS))
        parser.add_argument("--output", metavar="FILE", help="Write here instead of stdout.")

    def handle(self, *args, format, output=None, **options):
        text = EXPORTERS[format].export(Paper.objects.all())
        if output:
            try:
                Path(output).write_text(text, encoding="utf-8")
            except OSError as error:
                raise CommandError(f"{output}: cannot write ({error})") from error
            self.stderr.write(f"Wrote {Paper.objects.count()} papers to {output}")
        else:
            self.stdout.write(text, ending="")
