"""Model validation shown on forms: the rules live on the model, their messages by the fields."""

from django.core.exceptions import ValidationError
from django.forms.renderers import TemplatesSetting


class FormRenderer(TemplatesSetting):
    """`{{ form }}` and `{{ field.as_field_group }}` render with the project's templates:
    label, widget, errors and help next to each field, the same on every page."""

    form_template_name = "forms/form.html"
    field_template_name = "forms/field.html"


def add_model_errors(form, error: ValidationError):
    """Attach a model's ValidationError to the form: each field's messages to that field when
    the form has it, the rest (and an error about no field) to the whole form."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, messages in error.message_dict.items():
        form.add_error(field if field in form.fields else None, messages)


def add_field_errors(form, error: ValidationError):
    """Like add_model_errors for an error about fields; an error about no field (a conflict, a
    closed gate) is not attached but returned as one message, for the caller to show apart.

    Returns that message, or None when the error was attached to the form.
    """
    if not hasattr(error, "error_dict"):
        return " ".join(error.messages)
    add_model_errors(form, error)
    return None


def submit_form(form, action):
    """Whether `form` is valid and `action()` (a model method) took it; a model's
    ValidationError goes onto the form's fields (see add_model_errors)."""
    if not form.is_valid():
        return False
    try:
        action()
    except ValidationError as error:
        add_model_errors(form, error)
        return False
    return True
