from django.core.management.base import BaseCommand, CommandError

from experiments.models import ApiToken, Experiment
from experiments.models.tokens import expiry_from_date


class Command(BaseCommand):
    help = (
        "Print a new API token for an experiment (shown this once; only its hash is kept), "
        "or revoke one with --revoke TOKEN_ID."
    )

    def add_arguments(self, parser):
        parser.add_argument("experiment", help="Experiment key, e.g. EXP-12")
        parser.add_argument("--revoke", metavar="TOKEN_ID", help="Revoke this token (id or prefix)")
        parser.add_argument("--name", default="", help="What the token is for, e.g. 'cluster'")
        parser.add_argument(
            "--read-only", action="store_true", help="May read runs and ask should-stop, not report"
        )
        parser.add_argument(
            "--expires-on", default="", metavar="YYYY-MM-DD", help="Valid through this date"
        )

    def handle(self, *args, experiment, revoke, name, read_only, expires_on, **options):
        found = Experiment.objects.filter(key=experiment).first()
        if found is None:
            raise CommandError(f"No experiment with key {experiment!r}.")
        if revoke:
            lookup = {"pk": int(revoke)} if revoke.isdigit() else {"prefix": revoke}
            token = found.api_tokens.filter(**lookup).first()
            if token is None:
                raise CommandError(f"{found.key} has no token {revoke!r}.")
            token.revoke()
            self.stdout.write(f"Revoked token {token.pk} ({token.prefix}) of {found.key}.")
            return
        try:
            expires_at = expiry_from_date(expires_on)
        except ValueError as error:
            raise CommandError(str(error)) from None
        token, key = ApiToken.issue(found, name=name, read_only=read_only, expires_at=expires_at)
        until = f", valid until {expires_at:%Y-%m-%d %H:%M %Z}" if expires_at else ""
        self.stderr.write(
            f"Token {token.pk} for {found.key} (prefix {token.prefix}{until}); "
            "it is shown this once: store it now."
        )
        # The key alone on stdout, so `ASSAY_TOKEN=$(manage.py experiment_token EXP-12)` works.
        self.stdout.write(key)
