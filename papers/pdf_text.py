"""A PDF's text in page-numbered passages, read by pypdf in a child process with hard limits.

papers.pdfs runs this file as a script (`python -I pdf_text.py FILE --max-pages N ...`): the
child caps its own address space and CPU time with setrlimit before it imports pypdf, reads the
file, and prints one JSON object on stdout, either {"pages": M, "passages": [[page, text], ...],
"unreadable_pages": [...]} or {"refused": "reason"}. A hostile PDF can then exhaust only the
child: the worker sees it die and records why. Nothing here imports Django, so the child starts
in a fraction of a second and the web process never loads pypdf.

split_passages() is also imported by the tests and the demo.
"""

import argparse
import json
import re
import resource
import sys

# Passages are a few sentences: short enough to show as a search hit's context and to embed
# whole, long enough to carry a claim with its qualifiers.
MIN_PASSAGE_WORDS = 100
MAX_PASSAGE_WORDS = 250
# A last piece of a page shorter than this joins the passage before it when that still fits.
TAIL_WORDS = 40
# A 1,000-page book is ~3 million characters; more than this is not a paper but a text bomb
# (a content stream repeating a text operator), and would only fill the database.
MAX_TEXT_CHARACTERS = 10_000_000

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
# A hyphen at a line end splits a word ("exam-\nple"); the line break itself is a space.
_HYPHENATED = re.compile(r"(\w)-\n(\w)")
_WHITESPACE = re.compile(r"\s+")
# Control characters PDFs' font encodings leave in text; PostgreSQL refuses NUL outright.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
# A sentence ends at . ! or ? (maybe closing a quote or bracket) before a capital or a digit.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[\"'(\[]?[A-Z0-9])")


class Refused(Exception):
    """The PDF cannot be read; the message says why, for the paper page."""


def split_passages(page_text):
    """The text of one page as passages of at most MAX_PASSAGE_WORDS words each.

    Paragraphs (blank-line separated) are kept together where they fit, short ones joined until
    a passage has MIN_PASSAGE_WORDS; a paragraph too long is cut between sentences, and a
    sentence too long (a table, a reference list) between words.
    """
    # Lone surrogates (broken ToUnicode maps) cannot be stored as UTF-8: they become "?".
    page_text = page_text.encode("utf-8", "replace").decode("utf-8")
    page_text = _CONTROL.sub("", page_text)
    passages, current = [], []

    def flush():
        if current:
            passages.append(" ".join(current))
            current.clear()

    for paragraph in _PARAGRAPH_BREAK.split(_HYPHENATED.sub(r"\1\2", page_text)):
        paragraph = _WHITESPACE.sub(" ", paragraph).strip()
        if not paragraph:
            continue
        for sentence in _SENTENCE_END.split(paragraph):
            words = sentence.split()
            while len(words) > MAX_PASSAGE_WORDS:
                flush()
                passages.append(" ".join(words[:MAX_PASSAGE_WORDS]))
                words = words[MAX_PASSAGE_WORDS:]
            if len(current) + len(words) > MAX_PASSAGE_WORDS:
                flush()
            current.extend(words)
        if len(current) >= MIN_PASSAGE_WORDS:
            flush()
    if (
        current
        and passages
        and len(current) < TAIL_WORDS
        and len(passages[-1].split()) + len(current) <= MAX_PASSAGE_WORDS
    ):
        passages[-1] = f"{passages[-1]} {' '.join(current)}"
        current.clear()
    flush()
    return passages


def extract(path, *, max_pages):
    """{"pages", "passages", "unreadable_pages"} of the PDF at `path`; raises Refused."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, LimitReachedError, PyPdfError

    try:
        reader = PdfReader(path, strict=False)
        if reader.is_encrypted:
            # Many PDFs are "encrypted" only against editing, with an empty password to read.
            try:
                opened = reader.decrypt("")
            except (DependencyError, NotImplementedError) as error:
                raise Refused(f"encrypted in a way Assay cannot open ({error})") from None
            if not opened:
                raise Refused("encrypted with a password; upload a copy without one")
        page_count = len(reader.pages)
    except LimitReachedError as error:
        raise Refused(f"exceeds a safety limit of the PDF reader ({error})") from None
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError) as error:
        # pypdf raises plain Python errors as well as its own on files that are not PDFs.
        raise Refused(f"not a readable PDF ({type(error).__name__}: {error})") from None
    if page_count == 0:
        raise Refused("the PDF has no pages")
    if page_count > max_pages:
        raise Refused(
            f"the PDF has {page_count:,} pages; the limit is {max_pages:,} (ASSAY_PDF_MAX_PAGES)"
        )
    passages, unreadable, characters = [], [], 0
    for number, page in enumerate(reader.pages, start=1):
        try:
            # extract_text() reads a content stream that decompresses past pypdf's limits
            # as empty; decoding it first tells a decompression bomb from a blank page.
            contents = page.get_contents()
            if contents is not None:
                contents.get_data()
            text = page.extract_text() or ""
        except LimitReachedError as error:
            raise Refused(
                f"page {number} exceeds a safety limit of the PDF reader ({error})"
            ) from None
        except (MemoryError, RecursionError):
            raise  # a limit of the whole file, reported by main()
        except Exception:  # noqa: BLE001 - one broken page should not lose the others
            unreadable.append(number)
            continue
        characters += len(text)
        if characters > MAX_TEXT_CHARACTERS:
            raise Refused(
                f"more than {MAX_TEXT_CHARACTERS:,} characters of text by page {number}: "
                "not a paper"
            )
        passages.extend([number, passage] for passage in split_passages(text))
    if unreadable and len(unreadable) == page_count:
        raise Refused(f"none of its {page_count:,} pages could be read")
    return {"pages": page_count, "passages": passages, "unreadable_pages": unreadable}


def _limit_resources(memory_bytes, cpu_seconds):
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    # Past the soft limit the kernel sends SIGXCPU (the parent reports it), a second later KILL.
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--max-pages", type=int, required=True)
    parser.add_argument("--max-memory-bytes", type=int, required=True)
    parser.add_argument("--max-cpu-seconds", type=int, required=True)
    args = parser.parse_args(argv)
    _limit_resources(args.max_memory_bytes, args.max_cpu_seconds)
    try:
        result = extract(args.path, max_pages=args.max_pages)
    except Refused as refusal:
        result = {"refused": str(refusal)}
    except MemoryError:
        megabytes = args.max_memory_bytes // 2**20
        result = {
            "refused": f"reading it needed more than {megabytes:,} MB of memory "
            "(ASSAY_PDF_EXTRACT_MEMORY_MB)"
        }
    except RecursionError:
        result = {"refused": "its structure is nested too deeply to read"}
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
