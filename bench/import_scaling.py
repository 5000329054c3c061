"""How parsing an import file scales with its record count (issue 9, point 3).

Each importer numbers its records by line, for the report. That used to count the newlines from
the start of the file once per record (quadratic: a 5 MB Atom file tied up a web worker for
minutes); now one running count walks the file once. For growing files of Atom entries, CSL-JSON
items and BYOR JSON rows this prints the seconds the parser takes today (every record read and
numbered, nothing saved) beside the seconds the old per-record counting alone takes on the same
text, which is the "before"; above --old-up-to records that is extrapolated from the largest
size measured (n squared, marked ~), because measuring it takes many minutes. The record cap is
lifted for the run.

    .venv/bin/python bench/import_scaling.py [--atom 50000] [--csl 200000] [--byor 50000]
        [--old-up-to 20000]
"""

import argparse
import json
import os
import re
import time

from _setup import django_in_scratch_dir


def atom_text(count):
    entries = "".join(
        f"<entry>\n<id>http://arxiv.org/abs/2101.{n % 100000:05d}v1</id>\n"
        f"<title>Entry {n}</title>\n<published>2021-01-01T00:00:00Z</published>\n</entry>\n"
        for n in range(count)
    )
    return f'<?xml version="1.0"?>\n<feed xmlns="http://www.w3.org/2005/Atom">\n{entries}</feed>\n'


def csl_text(count):
    return json.dumps([{"type": "article", "title": f"Item {n}"} for n in range(count)], indent=1)


def byor_text(count):
    rows = [
        {
            "name": f"T{n}",
            "ring": "adopt",
            "quadrant": "Techniques",
            "isNew": "FALSE",
            "description": "x",
        }
        for n in range(count)
    ]
    return json.dumps(rows, indent=1)


def old_atom_lines(text):
    """The line numbering as it was: a count from the start of the file for every entry."""
    return [text.count("\n", 0, m.start()) + 1 for m in re.finditer(r"<entry[\s>]", text)]


def old_json_lines(text, count):
    """The CSL-JSON and BYOR JSON numbering as it was (the same loop in both)."""
    decoder, position, lines = json.JSONDecoder(), text.index("[") + 1, []
    for _ in range(count):
        while position < len(text) and text[position] in " \t\r\n,":
            position += 1
        lines.append(text.count("\n", 0, position) + 1)
        _value, position = decoder.raw_decode(text, position)
    return lines


def timed(function):
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--atom", type=int, default=50_000, help="largest Atom feed (entries)")
    parser.add_argument("--csl", type=int, default=200_000, help="largest CSL-JSON file (items)")
    parser.add_argument("--byor", type=int, default=50_000, help="largest BYOR JSON file (rows)")
    parser.add_argument(
        "--old-up-to", type=int, default=20_000, help="largest size the old counting is timed at"
    )
    arguments = parser.parse_args()
    django_in_scratch_dir("import-scaling")
    from django.conf import settings

    from papers.importers import arxiv_atom, csl_json
    from radar.interchange import read_rows

    settings.ASSAY_IMPORT_MAX_RECORDS = max(arguments.atom, arguments.csl, arguments.byor)
    print(f"cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.2f}")
    print(f"{'file':<10} {'records':>8} {'MB':>6} {'parse now (s)':>14} {'old counting (s)':>17}")
    cases = [
        ("atom", arguments.atom, atom_text, lambda t: list(arxiv_atom.parse(t)), old_atom_lines),
        (
            "csl-json",
            arguments.csl,
            csl_text,
            lambda t: list(csl_json.parse(t)),
            lambda t: old_json_lines(t, t.count('"type"')),
        ),
        (
            "byor-json",
            arguments.byor,
            byor_text,
            lambda t: read_rows(t, "radar.json"),
            lambda t: old_json_lines(t, t.count('"name"')),
        ),
    ]
    for name, largest, make_text, parse, old_counting in cases:
        measured = None
        for count in (largest // 4, largest // 2, largest):
            text = make_text(count)
            now = timed(lambda: parse(text))  # noqa: B023 - called at once
            if count <= arguments.old_up_to or measured is None:
                before = timed(lambda: old_counting(text))  # noqa: B023 - called at once
                measured, old = (count, before), f"{before:.2f}"
            else:
                old = f"~{measured[1] * (count / measured[0]) ** 2:.0f}"
            print(f"{name:<10} {count:>8,} {len(text) / 1e6:>6.1f} {now:>14.2f} {old:>17}")


if __name__ == "__main__":
    main()
