"""The one htmx protocol (core/htmx.py) and model errors on forms (core/forms.py)."""

import copy

import pytest
from django import forms
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.test import RequestFactory
from django_htmx.middleware import HtmxDetails

from core.forms import add_field_errors, add_model_errors
from core.htmx import for_htmx, form_response

PAGE = """<html>{% load partials %}<h1>Page</h1>
{% partialdef card inline %}<div id="card">{{ value }}</div>{% endpartialdef %}</html>"""


@pytest.fixture(autouse=True)
def page_template(settings, tmp_path):
    (tmp_path / "page.html").write_text(PAGE)
    templates = copy.deepcopy(settings.TEMPLATES)
    templates[0]["DIRS"] = [tmp_path, *templates[0]["DIRS"]]
    settings.TEMPLATES = templates


def make_request(*, htmx, method="get"):
    headers = {"HX-Request": "true"} if htmx else {}
    request = getattr(RequestFactory(), method)("/", headers=headers)
    request.htmx = HtmxDetails(request)
    request.session = {}
    request._messages = FallbackStorage(request)
    return request


@for_htmx(use_partial="card")
def page_view(request, status=200):
    return TemplateResponse(request, "page.html", {"value": "hello"}, status=status)


def rendered(response):
    response.render()
    return response.content.decode()


def test_for_htmx_renders_the_page_without_htmx():
    html = rendered(page_view(make_request(htmx=False)))
    assert "<h1>Page</h1>" in html and '<div id="card">hello</div>' in html


def test_for_htmx_renders_only_the_partial_for_htmx_keeping_the_status():
    response = page_view(make_request(htmx=True), status=201)
    assert response.template_name == "page.html#card"
    assert response.status_code == 201
    assert rendered(response) == '<div id="card">hello</div>'


def test_for_htmx_passes_other_responses_and_named_partials_through():
    @for_htmx(use_partial="card")
    def plain(request):
        return HttpResponse("file")

    @for_htmx(use_partial="other")
    def already(request):
        return TemplateResponse(request, "page.html#card", {"value": "x"})

    assert plain(make_request(htmx=True)).content == b"file"
    assert already(make_request(htmx=True)).template_name == "page.html#card"


def test_for_htmx_refuses_what_it_cannot_narrow():
    @for_htmx(use_partial="card")
    def two_templates(request):
        return TemplateResponse(request, ["page.html", "other.html"], {})

    with pytest.raises(ValueError, match="two_templates"):
        two_templates(make_request(htmx=True))


def test_for_htmx_keeps_the_view_name_and_says_which_partial():
    assert page_view.__name__ == "page_view"
    assert page_view.htmx_partial == "card"


def answer(request, *, ok, **kwargs):
    return form_response(
        request,
        ok=ok,
        template="page.html",
        partial="card",
        context={"value": "region"},
        page_context=lambda: {"value": "page"},
        redirect_to="/done/",
        **kwargs,
    )


def test_valid_plain_post_redirects_with_its_message():
    request = make_request(htmx=False, method="post")
    response = answer(request, ok=True, success_message="Saved.")
    assert response.status_code == 302 and response.url == "/done/"
    assert [str(m) for m in get_messages(request)] == ["Saved."]


def test_valid_htmx_post_re_renders_the_partial_without_a_message():
    request = make_request(htmx=True, method="post")
    response = answer(request, ok=True, success_message="Saved.")
    assert response.status_code == 200
    assert rendered(response) == '<div id="card">region</div>'
    assert list(get_messages(request)) == []


def test_valid_htmx_post_can_move_to_another_page():
    request = make_request(htmx=True, method="post")
    response = answer(request, ok=True, hx_redirect=True, success_message="Saved.")
    assert response["HX-Redirect"] == "/done/"
    assert [str(m) for m in get_messages(request)] == ["Saved."]


def test_invalid_plain_post_is_the_whole_page_with_400():
    response = answer(make_request(htmx=False, method="post"), ok=False)
    assert response.status_code == 400
    assert "<h1>Page</h1>" in rendered(response) and "page" in response.content.decode()


def test_invalid_plain_post_may_say_conflict():
    response = answer(make_request(htmx=False, method="post"), ok=False, invalid_status=409)
    assert response.status_code == 409


def test_invalid_htmx_post_is_the_partial_with_200_so_htmx_swaps_it():
    response = answer(make_request(htmx=True, method="post"), ok=False)
    assert response.status_code == 200
    assert rendered(response) == '<div id="card">region</div>'


def test_page_context_defaults_to_the_region_context_and_is_called_only_when_needed():
    calls = []

    def context():
        calls.append(1)
        return {"value": "both"}

    response = form_response(
        make_request(htmx=False, method="post"),
        ok=True,
        template="page.html",
        partial="card",
        context=context,
        redirect_to="/done/",
    )
    assert response.status_code == 302 and calls == []
    response = form_response(
        make_request(htmx=False, method="post"),
        ok=False,
        template="page.html",
        partial="card",
        context=context,
    )
    assert "both" in rendered(response) and calls == [1]


class NameForm(forms.Form):
    name = forms.CharField(required=False)


def test_model_errors_go_next_to_their_fields_and_the_rest_to_the_form():
    form = NameForm({"name": "x"})
    form.is_valid()
    add_model_errors(form, ValidationError({"name": "Taken.", "owner": "Needed."}))
    assert form.errors["name"] == ["Taken."]
    assert form.non_field_errors() == ["Needed."]


def test_a_model_error_about_no_field_goes_to_the_form():
    form = NameForm({"name": "x"})
    form.is_valid()
    add_model_errors(form, ValidationError("Closed."))
    assert form.non_field_errors() == ["Closed."]


def test_add_field_errors_returns_an_error_about_no_field_as_one_message():
    form = NameForm({"name": "x"})
    form.is_valid()
    message = add_field_errors(form, ValidationError(["Closed.", "Decided meanwhile."]))
    assert message == "Closed. Decided meanwhile."
    assert form.errors == {}
    assert add_field_errors(form, ValidationError({"name": "Taken."})) is None
    assert form.errors["name"] == ["Taken."]
