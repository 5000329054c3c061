"""Small text PDFs written with pypdf, for the demo data and the tests (no PDF in the repo)."""

import io
import textwrap

from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

LINE_CHARACTERS = 90
LINES_PER_PAGE = 60


def _escape(line):
    return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def text_pdf(pages, *, password=None):
    """The bytes of a PDF whose page i shows the text pages[i] (line breaks kept)."""
    streams = []
    for text in pages:
        lines = []
        for paragraph in text.split("\n"):
            lines.extend(textwrap.wrap(paragraph, LINE_CHARACTERS) or [""])
        operators = ["BT", "/F1 10 Tf", "12 TL", "50 760 Td"]
        operators += [f"({_escape(line)}) Tj T*" for line in lines[:LINES_PER_PAGE]]
        operators.append("ET")
        streams.append("\n".join(operators).encode("latin-1", errors="replace"))
    return content_pdf(streams, password=password)


def content_pdf(streams, *, password=None):
    """A PDF with one page per content stream (PDF operators, bytes), Helvetica as /F1;
    compressed, and encrypted (RC4) with `password` unless it is None."""
    writer = PdfWriter()
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    font_ref = writer._add_object(font)
    for data in streams:
        page = writer.add_blank_page(width=612, height=792)
        stream = DecodedStreamObject()
        stream.set_data(data)
        page[NameObject("/Contents")] = writer._add_object(stream)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font_ref})}
        )
        page.compress_content_streams()
    if password is not None:
        writer.encrypt(
            user_password=password, owner_password=f"{password}-owner", algorithm="RC4-128"
        )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
