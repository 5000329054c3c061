import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from papers.importers import ImportFormatError, decode_file, import_text


class Command(BaseCommand):
    help = (
        "Import papers from BibTeX, CSL-JSON, RIS or arXiv Atom files (format told from the "
        "content). "
        "Prints a line per record (created, merged, duplicate, rejected with line and reason) "
        "and a last line 'created N, merged M, duplicates K, rejected R'. Exits 1 if any record "
        "or file was rejected. Importing a file twice changes nothing. UTF-8, or UTF-16 with a "
        "byte order mark (EndNote's RIS)."
    )

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE", help="Files to import.")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Report what would happen, then roll everything back.",
        )

    def handle(self, *args, files, dry_run=False, **options):
        totals = {"created": 0, "merged": 0, "duplicate": 0, "rejected": 0}
        failed_files = 0
        for name in files:
            path = Path(name)
            try:
                text = decode_file(path.read_bytes())
            except (OSError, ImportFormatError) as error:
                raise CommandError(f"{name}: cannot read the file ({error})") from error
            try:
                report = import_text(text, dry_run=dry_run, progress=self._progress(path.name))
            except ImportFormatError as error:
                self.stderr.write(f"{name}: rejected: {error}")
                failed_files += 1
                continue
            for outcome in report.outcomes:
                self.stdout.write(f"{name}: {outcome}")
            for status, count in report.counts.items():
                totals[status] += count
        if dry_run:
            self.stdout.write("Dry run: nothing was saved.")
        self.stdout.write(
            f"created {totals['created']}, merged {totals['merged']}, "
            f"duplicates {totals['duplicate']}, rejected {totals['rejected'] + failed_files}"
        )
        if totals["rejected"] or failed_files:
            sys.exit(1)

    def _progress(self, label):
        def wrap(iterable, total):
            # The bar goes to stderr so that stdout stays a clean per-record report.
            return tqdm(iterable, total=total, desc=label, unit="record", file=sys.stderr)

        return wrap
