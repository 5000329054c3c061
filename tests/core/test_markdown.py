from core.markdown import render_markdown


def test_markdown_is_rendered():
    assert "<strong>bold</strong>" in render_markdown("**bold**")


def test_script_cannot_be_injected():
    html = render_markdown(
        "<script>alert(1)</script> [x](javascript:alert(1)) <img src=x onerror=alert(1)>"
    )
    assert "<script" not in html
    assert "javascript:" not in html
    assert "onerror" not in html
