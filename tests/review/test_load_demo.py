import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db


def test_load_demo_fills_an_empty_database_and_prints_the_login(capsys):
    call_command("load_demo")
    assert User.objects.filter(username="alice", groups__name="Lead").exists()
    assert "password for each" in capsys.readouterr().out


def test_load_demo_refuses_a_database_with_data(bob):
    with pytest.raises(CommandError, match="already has data"):
        call_command("load_demo")


def test_load_demo_if_empty_leaves_existing_data_alone(bob, capsys):
    call_command("load_demo", "--if-empty")
    assert not User.objects.filter(username="alice").exists()
    assert "not loaded" in capsys.readouterr().out


def test_if_empty_on_a_database_with_data_prints_no_demo_login(bob, capsys):
    # The demo users were never created here: their password would be a false promise.
    call_command("load_demo", "--if-empty")
    output = capsys.readouterr().out
    assert "Log in at" not in output and "assay-demo" not in output


def test_the_login_line_names_the_address_the_server_will_listen_on(db, capsys):
    call_command("load_demo", "--if-empty", "--address", "0.0.0.0:8765")
    assert "Log in at http://0.0.0.0:8765/ as alice" in capsys.readouterr().out
