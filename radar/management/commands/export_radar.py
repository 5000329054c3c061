from pathlib import Path

from django.core.management.base import BaseCommand

from radar.interchange import EXPORTERS, SKIP_AS_CHOICES, export_markdown


class Command(BaseCommand):
    help = (
        "Export the radar as a Build-Your-Own-Radar CSV or JSON file, or the whole radar as "
        "Markdown. BYOR cannot draw Skip: --skip-as chooses what happens to Skip techniques, "
        "and the choice is reported on stderr."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--format", required=True, choices=["byor-csv", "byor-json", "markdown"]
        )
        parser.add_argument("--output", metavar="FILE", help="Write here instead of stdout.")
        parser.add_argument(
            "--skip-as",
            choices=SKIP_AS_CHOICES,
            default="hold",
            help="BYOR formats: export Skip techniques as Hold (default), omit them, or keep "
            "ring Skip (Assay reads it back; BYOR does not draw it).",
        )

    def handle(self, *args, format, output, skip_as, **options):
        if format == "markdown":
            export = export_markdown()
        else:
            export = EXPORTERS[format](skip_as=skip_as)
        if output:
            Path(output).write_text(export.text, encoding="utf-8")
        else:
            self.stdout.write(export.text, ending="")
        for note in export.notes:
            self.stderr.write(note)
