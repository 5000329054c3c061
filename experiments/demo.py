"""Demo data for this app, loaded by `manage.py load_demo`."""


def load(users, stdout=None):
    """Create this app's demo rows. `users` maps demo usernames to User objects."""
