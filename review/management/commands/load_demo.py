from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from core.roles import ADMIN, LEAD, MEMBER, sync_groups
from experiments import demo as experiments_demo
from experiments.models import Experiment
from papers import demo as papers_demo
from papers.models import Paper
from radar import demo as radar_demo
from radar.models import Technique

DEMO_PASSWORD = "assay-demo"
DEMO_USERS = [
    # username, role, full name
    ("alice", LEAD, "Alice Lead"),
    ("bob", MEMBER, "Bob Member"),
    ("dana", MEMBER, "Dana Researcher"),
    ("admin", ADMIN, "Ada Admin"),
]

# runserver's own default; `make run` passes the HOST it serves on.
DEFAULT_ADDRESS = "127.0.0.1:8000"


class Command(BaseCommand):
    help = (
        "Load Assay's demo data: users, a radar of real ML techniques with history, papers, "
        "and experiments. Refuses a database that already has data."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing (and succeed) when the database already has data.",
        )
        parser.add_argument(
            "--address",
            default=DEFAULT_ADDRESS,
            help="host:port the server will listen on, for the login line printed at the end.",
        )

    def handle(self, *args, if_empty=False, address=DEFAULT_ADDRESS, **options):
        has_data = (
            User.objects.exists()
            or Technique.objects.exists()
            or Paper.objects.exists()
            or Experiment.objects.exists()
        )
        if has_data:
            if if_empty:
                # No login line: the demo users (and their password) may not exist here.
                self.stdout.write("The database already has data; demo data not loaded.")
                return
            raise CommandError("The database already has data; load_demo only fills an empty one.")
        with transaction.atomic():
            sync_groups()
            users = {}
            for username, role, full_name in DEMO_USERS:
                first, last = full_name.split(" ", 1)
                user = User.objects.create_user(
                    username=username,
                    password=DEMO_PASSWORD,
                    first_name=first,
                    last_name=last,
                    email=f"{username}@example.org",
                    is_staff=role == ADMIN,
                    is_superuser=role == ADMIN,
                )
                user.groups.add(Group.objects.get(name=role))
                users[username] = user
            radar_demo.load(users, stdout=self.stdout)
            papers_demo.load(users, stdout=self.stdout)
            experiments_demo.load(users, stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo data loaded."))
        self._print_login(address)

    def _print_login(self, address):
        self.stdout.write(
            f"Log in at http://{address}/ as alice (Lead), bob (Member) or admin (Admin); "
            f"password for each: {DEMO_PASSWORD}"
        )
