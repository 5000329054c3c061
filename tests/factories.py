"""Keyword-only factory functions for test data. Each app keeps its section below."""

import itertools

from django.contrib.auth.models import Group, User

PASSWORD = "correct-horse-battery"
_sequence = itertools.count(1)


def make_user(*, username=None, role="Member", password=PASSWORD, **fields):
    username = username or f"user{next(_sequence)}"
    user = User.objects.create_user(username=username, password=password, **fields)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


# --- radar ---


def make_technique(*, name=None, **fields):
    from django.utils.text import slugify

    from radar.models import Technique

    name = name or f"Technique {next(_sequence)}"
    fields.setdefault("slug", slugify(name))
    return Technique.objects.create(name=name, **fields)


# --- papers ---


def make_paper(*, title=None, **fields):
    from papers.models import Paper

    return Paper.objects.create(title=title or f"Paper {next(_sequence)}", **fields)


# --- experiments ---


def make_experiment(*, key=None, technique=None, **fields):
    from experiments.models import Experiment

    number = next(_sequence)
    return Experiment.objects.create(
        key=key or f"EXP-{number}",
        title=fields.pop("title", f"Experiment {number}"),
        technique=technique or make_technique(),
        **fields,
    )
