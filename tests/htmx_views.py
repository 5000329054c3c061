"""Shared by each app's test_htmx_views.py: which URLs answer htmx, and the check that each one
answers a plain request with the page (or a redirect) and an htmx request with its region.

The URLs come from the code, not from memory, so that an app's table cannot miss one: every URL
a template points an hx-get/hx-post at, and every view decorated with core.htmx.for_htmx.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse

HX_URL = re.compile(r"""hx-(?:get|post|put|patch|delete)="\{% url '([\w:-]+)'""")
URL_AS = re.compile(r"""\{% url '([\w:-]+)'[^%]* as (\w+) %\}""")
HX_VARIABLE = re.compile(r'hx-\w+="\{\{ (\w+) \}\}')
INCLUDE = re.compile(r'\{% include "([^"]+)"')


def htmx_url_names(namespace):
    """The URL names in `namespace` that htmx requests or that render a partial for htmx.

    A URL kept `as` a variable counts where the template, or one it includes (core/_hx_form.html),
    points an hx- attribute at that variable.
    """
    root = Path(settings.BASE_DIR, "templates")
    texts = {str(path.relative_to(root)): path.read_text() for path in root.rglob("*.html")}
    hx_variables = {name: set(HX_VARIABLE.findall(text)) for name, text in texts.items()}
    names = set()
    for name, text in texts.items():
        variables = set(hx_variables[name])
        for included in INCLUDE.findall(text):
            variables |= hx_variables.get(included, set())
            for nested in INCLUDE.findall(texts.get(included, "")):
                variables |= hx_variables.get(nested, set())
        names.update(HX_URL.findall(text))
        names.update(url for url, variable in URL_AS.findall(text) if variable in variables)
    names.update(_for_htmx_views(get_resolver()))
    return {name for name in names if name.split(":")[0] == namespace}


def _for_htmx_views(resolver, prefix=""):
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            namespace = f"{prefix}{pattern.namespace}:" if pattern.namespace else prefix
            yield from _for_htmx_views(pattern, namespace)
        elif isinstance(pattern, URLPattern) and hasattr(pattern.callback, "htmx_partial"):
            yield f"{prefix}{pattern.name}"


@dataclass
class HtmxView:
    """One URL that answers htmx.

    `request(user)` makes a fresh (method, url, data) each call, as `user` (a Lead), since a
    post changes what it acts on. `region`: how the htmx answer begins (its first tag).
    `plain`: what a request without htmx gets: "page" (the whole page), "redirect" (a post that
    redirects), or "fragment" (a region only htmx or the dashboard loads, the same either way).
    """

    request: Callable
    region: str
    plain: str = "page"
    plain_status: int = 200
    htmx_status: int = 200


def check_plain_and_htmx(client, user, htmx, view):
    """Assert both answers of one htmx view to `user`: without HX-Request and with it."""
    client.force_login(user)
    method, url, data = view.request(user)
    plain = getattr(client, method)(url, data)
    html = plain.content.decode()
    if view.plain == "redirect":
        assert plain.status_code == 302, html
    else:
        assert plain.status_code == view.plain_status, html
        assert ("<html" in html) is (view.plain == "page"), html[:300]
    method, url, data = view.request(user)
    answer = getattr(client, method)(url, data, headers=htmx)
    html = answer.content.decode()
    assert answer.status_code == view.htmx_status, html
    assert "<html" not in html, html[:300]
    assert html.lstrip().startswith(view.region), html[:300]


def home_panel_view(namespace, title):
    """An app's dashboard panel, a fragment the same with htmx or without."""
    return HtmxView(
        request=lambda user: ("get", reverse(f"{namespace}:home_panel"), {}),
        region=f'<h2><a href="/{namespace}/">{title}</a></h2>',
        plain="fragment",
    )


def htmx_view_tests(namespace, views):
    """The two tests of an app's test_htmx_views.py, over its table `views`: the table lists
    every view of `namespace` that answers htmx, and each answers plain and htmx requests.

    The module binds them to names starting with test_, for pytest to collect.
    """

    def test_the_table_lists_every_view_that_answers_htmx():
        assert htmx_url_names(namespace) == set(views)

    @pytest.mark.parametrize("name", sorted(views))
    def test_each_view_answers_plain_and_htmx(name, client, alice, htmx):
        check_plain_and_htmx(client, alice, htmx, views[name])

    return test_the_table_lists_every_view_that_answers_htmx, test_each_view_answers_plain_and_htmx
