from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from radar.interchange import ImportFileError, import_radar


class Command(BaseCommand):
    help = (
        "Import a Build-Your-Own-Radar CSV or JSON file (name, ring, quadrant, isNew/status, "
        "description). Prints one line per row and a last line 'created N, updated M, "
        "unchanged K, rejected R'. Any rejected row: nothing is written and the exit status "
        "is 1."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="BYOR .csv or .json file")
        parser.add_argument(
            "--owner",
            required=True,
            metavar="USERNAME",
            help="Records the moves; owns imported Trial/Assess entries, which also get the "
            "next action 'review imported entry' due in 30 days.",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Check and report, write nothing."
        )

    def handle(self, *args, file, owner, dry_run, **options):
        try:
            user = get_user_model().objects.get(username=owner)
        except get_user_model().DoesNotExist:
            raise CommandError(f"--owner: no user named {owner!r}") from None
        path = Path(file)
        try:
            data = path.read_bytes()
        except OSError as error:
            raise CommandError(f"{file}: {error.strerror}") from None
        try:
            report = import_radar(data, filename=path.name, owner=user, dry_run=dry_run)
        except ImportFileError as error:
            raise CommandError(f"{file}: {error} Nothing was written.") from None
        for line in report.lines():
            self.stdout.write(line)
        if report.rejected:
            raise CommandError(
                f"{report.rejected} row(s) rejected; nothing was written.", returncode=1
            )
        if dry_run:
            self.stderr.write("Dry run: nothing was written.")
