import pytest
from django.urls import reverse

from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(factories.make_user(username="ada", role="Admin", is_staff=True))
    return client


def test_a_frozen_criterion_is_read_only_in_the_admin(admin_client):
    experiment = factories.make_experiment()
    criterion = factories.make_criterion(experiment=experiment)
    factories.report_run(experiment=experiment)
    url = reverse("admin:experiments_criterion_change", args=[criterion.pk])

    page = admin_client.get(url)
    assert page.status_code == 200
    assert b'name="threshold"' not in page.content  # no editable field left

    delete = admin_client.get(reverse("admin:experiments_criterion_delete", args=[criterion.pk]))
    assert delete.status_code == 403


def test_a_criterion_without_data_is_editable_in_the_admin(admin_client):
    criterion = factories.make_criterion(experiment=factories.make_experiment())
    page = admin_client.get(reverse("admin:experiments_criterion_change", args=[criterion.pk]))
    assert b'name="threshold"' in page.content
