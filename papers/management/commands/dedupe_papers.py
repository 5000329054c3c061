from django.core.management.base import BaseCommand

from papers.dedupe import find_duplicate_groups, merge_group


class Command(BaseCommand):
    help = (
        "Find papers that are one paper by title (same normalised title, an author surname in "
        "common, years within one, or a preprint and its published version; differing DOIs or "
        "arXiv ids veto) and merge each group into its oldest paper, keeping every identifier, "
        "note, tag and link. With --dry-run only list them."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="List, do not merge.")

    def handle(self, *args, dry_run=False, **options):
        groups = find_duplicate_groups()
        for group in groups:
            keep, others = group[0], group[1:]
            names = ", ".join(f"#{p.pk}" for p in others)
            verb = "would merge" if dry_run else "merged"
            if not dry_run:
                merge_group(group)
            self.stdout.write(f"{verb} {names} into #{keep.pk} {keep.title!r}")
        merged = sum(len(group) - 1 for group in groups)
        self.stdout.write(
            f"{len(groups)} group{'s' if len(groups) != 1 else ''} of duplicates, "
            f"{merged} paper{'s' if merged != 1 else ''} {'to merge' if dry_run else 'merged'}"
        )
