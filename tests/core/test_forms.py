"""One way to render a form (FORM_RENDERER, templates/forms/): accessible, the same everywhere."""

import re

from django import forms


class ExampleForm(forms.Form):
    name = forms.CharField(help_text="As on the paper.")
    tags = forms.MultipleChoiceField(
        choices=[("a", "A"), ("b", "B")], widget=forms.CheckboxSelectMultiple, required=False
    )

    def clean(self):
        raise forms.ValidationError("Something about no field.")


def test_a_form_renders_each_field_with_its_label_errors_and_help_next_to_it():
    html = str(ExampleForm({"name": ""}))
    assert '<ul class="errorlist" role="alert"><li>Something about no field.</li></ul>' in html
    assert '<p class="field has-error">' in html
    assert '<label for="id_name">Name</label>' in html
    assert '<span class="error">This field is required.</span>' in html
    assert '<fieldset class="field"' in html and "<legend>Tags</legend>" in html


def test_the_ids_a_widget_is_described_by_exist():
    html = str(ExampleForm({"name": ""}))
    widget = re.search(r"<input [^>]*name=\"name\"[^>]*>", html).group()
    assert 'aria-invalid="true"' in widget
    described_by = re.search(r'aria-describedby="([^"]+)"', widget).group(1).split()
    assert described_by == ["id_name_helptext", "id_name_error"]
    for element_id in described_by:
        assert f'id="{element_id}"' in html


def test_help_text_is_escaped():
    form = ExampleForm()
    form.fields["name"].help_text = "<script>alert(1)</script>"
    assert "<script>" not in str(form)


class NameForm(forms.Form):
    name = forms.CharField()


def test_submit_form_runs_the_action_only_on_a_valid_form_and_keeps_its_errors_by_field():
    from django.core.exceptions import ValidationError

    from core.forms import submit_form

    calls = []
    assert submit_form(NameForm({"name": ""}), lambda: calls.append("ran")) is False
    assert calls == []
    assert submit_form(NameForm({"name": "x"}), lambda: calls.append("ran")) is True
    assert calls == ["ran"]

    def refuse():
        raise ValidationError({"name": "Taken.", "other": "Not a field of the form."})

    form = NameForm({"name": "x"})
    assert submit_form(form, refuse) is False
    assert form.errors == {"name": ["Taken."], "__all__": ["Not a field of the form."]}
