"""One htmx protocol for every view: the whole page, or the region htmx asked for.

The pattern of Luke Plant's django-htmx-patterns, on django-template-partials: a page names the
regions htmx refreshes with `{% partialdef name inline %}`, and `page.html#name` renders one of
them alone. A view builds the page's TemplateResponse; `for_htmx` narrows it to the region, and
`form_response` answers a form post the same way everywhere:

    valid, plain POST  -> redirect (Post/Redirect/Get)
    valid, htmx        -> the region re-rendered (or an HX-Redirect where the page must change)
    invalid, htmx      -> the region with its errors, status 200: htmx swaps only 2xx responses
    invalid, plain POST -> the whole page with its errors, status 400 (or the one given)
"""

from functools import wraps

from django.contrib import messages
from django.shortcuts import redirect, resolve_url
from django.template.response import TemplateResponse
from django_htmx.http import HttpResponseClientRedirect


def partial_template(template, name):
    """`template#name`, the django-template-partials name of one region of a page."""
    return f"{template}#{name}"


def for_htmx(*, use_partial):
    """Decorate a view so that, for htmx requests, its page renders only the partial `use_partial`.

    The view returns a TemplateResponse for the page (`page.html`); for an htmx request it is
    rendered as `page.html#use_partial` with the same context and status. Other responses
    (redirects, files, a template that already names a partial) pass through unchanged. The
    view carries `htmx_partial`, so that tests can list every view that answers htmx.
    """

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            response = view(request, *args, **kwargs)
            if request.htmx and isinstance(response, TemplateResponse):
                if response.is_rendered or not isinstance(response.template_name, str):
                    raise ValueError(f"{view.__name__}: for_htmx needs one unrendered template.")
                if "#" not in response.template_name:
                    response.template_name = partial_template(response.template_name, use_partial)
            return response

        wrapped.htmx_partial = use_partial
        return wrapped

    return decorator


def form_response(
    request,
    *,
    ok,
    template,
    partial,
    context,
    page_context=None,
    redirect_to=None,
    invalid_status=400,
    hx_redirect=False,
    success_message=None,
):
    """The answer to a form post (or any htmx action), valid or not.

    `ok`: whether the post did what it asked. `template`/`partial`: the page and the region htmx
    swaps. `context`: the region's context; `page_context`: the whole page's (default `context`).
    Either may be a callable, called only for the response that needs it, since a page costs
    more queries than a region. `redirect_to`: where a valid plain POST goes (a URL, a model
    with get_absolute_url, or a URL name without arguments). `invalid_status`: the page's status
    when invalid (409 for a conflict). `hx_redirect`: answer a valid htmx post with an
    HX-Redirect, for an action after which the page itself must change. `success_message`: a
    flash message for the page that a redirect lands on (a re-rendered region shows the result
    itself).
    """
    if ok and (hx_redirect or not request.htmx):
        if success_message:
            messages.success(request, success_message)
        if request.htmx:
            return HttpResponseClientRedirect(resolve_url(redirect_to))
        return redirect(redirect_to)
    if request.htmx:
        return TemplateResponse(request, partial_template(template, partial), _resolve(context))
    return TemplateResponse(
        request, template, _resolve(page_context or context), status=invalid_status
    )


def _resolve(context):
    return context() if callable(context) else context
