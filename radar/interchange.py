"""Radar import and export: Build-Your-Own-Radar (BYOR) CSV and JSON, and a Markdown export.

BYOR rows carry name, ring, quadrant, isNew and/or status, and an HTML description. An
import is planned row by row, then applied in one transaction: any rejected row rolls the
whole import back, so a file applies fully or not at all. Every row gets a line in the
report; nothing is dropped without one.
"""

import csv
import datetime
import io
import json
import re
import textwrap
from dataclasses import dataclass, field

import nh3
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.text import slugify

from core.markdown import render_markdown, sanitise_html
from core.uploads import LineCounter, too_many_records

from .drawing import movement
from .models import OWNED_RINGS, PARKED_RINGS, Quadrant, Review, Ring, Technique

REQUIRED_COLUMNS = ("name", "ring", "quadrant", "description")
KNOWN_COLUMNS = (*REQUIRED_COLUMNS, "isNew", "status")
RINGS_BY_LABEL = {ring.label.lower(): ring for ring in Ring}
STATUSES = {"new": "new", "moved in": "in", "moved out": "out", "no change": ""}
STATUS_LABELS = {"new": "New", "in": "Moved In", "out": "Moved Out", "": "No Change"}
TRUE_WORDS = {"true", "yes", "1"}
FALSE_WORDS = {"false", "no", "0", ""}
IMPORTED_NEXT_ACTION = "review imported entry"
IMPORTED_NEXT_ACTION_DAYS = 30
SKIP_AS_CHOICES = ("hold", "omit", "skip")


class ImportFileError(Exception):
    """The file as a whole cannot be read (encoding, syntax, missing columns)."""


@dataclass
class Row:
    line: int
    values: dict
    ring: str = ""
    quadrant: str = ""
    name: str = ""
    description: str = ""
    status: str | None = None
    errors: list = field(default_factory=list)

    def error(self, column, message):
        self.errors.append((column, message))


@dataclass
class RowResult:
    line: int
    name: str
    outcome: str  # created, updated, unchanged, rejected
    detail: str

    def __str__(self):
        return f"line {self.line}: {self.name or '(no name)'}: {self.outcome}: {self.detail}"


@dataclass
class ImportReport:
    results: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    applied: bool = False

    def count(self, outcome):
        return sum(1 for result in self.results if result.outcome == outcome)

    @property
    def rejected(self):
        return self.count("rejected")

    @property
    def summary(self):
        return (
            f"created {self.count('created')}, updated {self.count('updated')}, "
            f"unchanged {self.count('unchanged')}, rejected {self.rejected}"
        )

    def lines(self):
        return [*self.notes, *(str(result) for result in self.results), self.summary]


# --- reading files ---


def _decode(data):
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ImportFileError(f"The file is not UTF-8 text (byte {error.start}).") from None


def read_rows(data, filename=""):
    """Rows of a BYOR CSV or JSON file (JSON when the name ends in .json or the text starts
    with '['), each with the line it starts on. Raises ImportFileError for a broken file."""
    text = _decode(data)
    if filename.lower().endswith(".json") or text.lstrip().startswith("["):
        return _json_rows(text)
    return _csv_rows(text)


def _check_columns(columns, where):
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        raise ImportFileError(f"{where}: missing column(s) {', '.join(missing)}.")
    if "isNew" not in columns and "status" not in columns:
        raise ImportFileError(f"{where}: needs an isNew or a status column.")


def _csv_rows(text):
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [column.strip() for column in next(reader)]
    except StopIteration:
        raise ImportFileError("The file is empty.") from None
    except csv.Error as error:
        raise ImportFileError(f"line 1: {error}") from None
    _check_columns(header, "line 1 (header)")
    rows = []
    start = reader.line_num + 1
    try:
        for record in reader:
            if any(cell.strip() for cell in record):
                row = Row(line=start, values=dict(zip(header, record, strict=False)))
                if len(record) != len(header):
                    row.error("columns", f"has {len(record)} fields, the header has {len(header)}")
                rows.append(row)
            start = reader.line_num + 1
    except csv.Error as error:
        raise ImportFileError(f"line {start}: {error}") from None
    _check_row_count(len(rows))
    return rows, [column for column in header if column not in KNOWN_COLUMNS]


_SEPARATORS = re.compile(r"[\s,]*")


def _check_row_count(count):
    refusal = too_many_records(count)
    if refusal:
        raise ImportFileError(refusal[0].upper() + refusal[1:] + ".")


def _json_rows(text):
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ImportFileError(f"line {error.lineno}: not valid JSON: {error.msg}") from None
    except RecursionError:
        # Python's decoder recurses per level; a file of nested brackets is no radar.
        raise ImportFileError("The JSON is nested too deeply to read.") from None
    if not isinstance(data, list):
        raise ImportFileError("line 1: a BYOR JSON file is a list of objects.")
    _check_row_count(len(data))
    decoder = json.JSONDecoder()
    position = text.index("[") + 1
    rows, extra, counter = [], set(), LineCounter(text)
    for _ in data:
        # Find where each element starts so that errors can name its line.
        position = _SEPARATORS.match(text, position).end()
        line = counter.line_at(position)
        entry, position = decoder.raw_decode(text, position)
        if not isinstance(entry, dict):
            row = Row(line=line, values={})
            row.error("entry", "is not an object")
            rows.append(row)
            continue
        _check_columns(entry.keys(), f"line {line}")
        extra.update(key for key in entry if key not in KNOWN_COLUMNS)
        rows.append(Row(line=line, values=entry))
    return rows, sorted(extra)


# --- checking rows ---


def _text(row, column):
    value = row.values.get(column, "")
    if isinstance(value, bool) and column == "isNew":
        return "true" if value else "false"
    if value is None:
        return ""
    if not isinstance(value, str):
        row.error(column, f"expected text, got {type(value).__name__}")
        return ""
    return value.strip()


def check_row(row):
    """Fill the row's typed fields from its values, recording each problem by column."""
    row.name = _text(row, "name")
    if not row.name:
        row.error("name", "is empty")
    elif len(row.name) > 200:
        row.error("name", f"is {len(row.name)} characters long; the limit is 200")
    ring_text = _text(row, "ring")
    row.ring = RINGS_BY_LABEL.get(ring_text.lower(), "")
    if not row.ring:
        choices = ", ".join(ring.label for ring in Ring)
        row.error("ring", f"{ring_text!r} is not one of {choices}")
    row.quadrant = _text(row, "quadrant")
    if not row.quadrant:
        row.error("quadrant", "is empty")
    elif len(row.quadrant) > 100:
        row.error("quadrant", "is longer than 100 characters")
    row.description = sanitise_html(_text(row, "description"))
    if row.ring in PARKED_RINGS and not _plain(row.description):
        row.error(
            "description",
            f"a {row.ring.label} entry needs a description saying why (BYOR has no other "
            "place for the reason)",
        )
    _check_status(row)


def _check_status(row):
    is_new = None
    if "isNew" in row.values:
        word = _text(row, "isNew").lower()
        if word in TRUE_WORDS:
            is_new = True
        elif word in FALSE_WORDS:
            is_new = False
        else:
            row.error("isNew", f"{word!r} is not TRUE or FALSE")
    if "status" in row.values and _text(row, "status"):
        word = _text(row, "status").lower()
        if word not in STATUSES:
            row.error("status", f"{word!r} is not one of New, Moved In, Moved Out, No Change")
            return
        row.status = STATUSES[word]
        if is_new is not None and is_new != (row.status == "new"):
            row.error("status", f"{word!r} contradicts isNew")
    elif is_new is not None:
        row.status = "new" if is_new else ""


def _plain(html):
    return " ".join(nh3.clean(html or "", tags=set()).split())


def _hold_reason(row):
    """The constraint a HOLD/SKIP entry fails, taken from its description's first sentence."""
    text = _plain(row.description)
    sentence = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]
    return sentence[:300]


# --- importing ---


def import_radar(data, *, filename, owner, dry_run=False, today=None):
    """Import a BYOR CSV/JSON file. Returns an ImportReport; writes only when nothing was
    rejected and `dry_run` is false. Raises ImportFileError for an unreadable file."""
    today = today or timezone.localdate()
    rows, extra_columns = read_rows(data, filename)
    report = ImportReport()
    if extra_columns:
        report.notes.append(f"ignored column(s): {', '.join(extra_columns)}")
    if not rows:
        report.notes.append("the file has no rows")
    with transaction.atomic():
        _apply(rows, report, owner=owner, filename=filename or "upload", today=today)
        report.applied = not dry_run and not report.rejected
        if not report.applied:
            transaction.set_rollback(True)
    return report


def _apply(rows, report, *, owner, filename, today):
    quadrants = {quadrant.name.lower(): quadrant for quadrant in Quadrant.objects.all()}
    next_order = (Quadrant.objects.aggregate(order=Max("order"))["order"] or 0) + 1
    seen = {}
    for row in rows:
        check_row(row)
        if row.errors:
            detail = "; ".join(f"{column}: {message}" for column, message in row.errors)
            report.results.append(RowResult(row.line, row.name, "rejected", detail))
            continue
        earlier = seen.get(row.name.lower())
        if earlier:
            report.results.append(_duplicate(row, earlier))
            continue
        seen[row.name.lower()] = row
        quadrant = quadrants.get(row.quadrant.lower())
        if quadrant is None:
            quadrant = Quadrant.objects.create(name=row.quadrant, order=next_order)
            quadrants[row.quadrant.lower()] = quadrant
            next_order += 1
            report.notes.append(f"new quadrant: {row.quadrant}")
        try:
            with transaction.atomic():
                result = _import_row(row, quadrant, owner=owner, filename=filename, today=today)
        except ValidationError as error:
            detail = "; ".join(
                f"{column}: {message}"
                for column, messages in error.message_dict.items()
                for message in messages
            )
            result = RowResult(row.line, row.name, "rejected", detail)
        report.results.append(result)


def _duplicate(row, earlier):
    for column, mine, theirs in (
        ("ring", row.ring.label, earlier.ring.label),
        ("quadrant", row.quadrant, earlier.quadrant),
        ("description", row.description, earlier.description),
    ):
        if mine != theirs:
            shown = theirs if column != "description" else "a different text"
            return RowResult(
                row.line,
                row.name,
                "rejected",
                f"{column}: {row.name} is already on line {earlier.line} with {column} "
                f"{shown!r}; a technique appears once (remove or merge one of the rows)",
            )
    return RowResult(
        row.line,
        row.name,
        "unchanged",
        f"duplicate of line {earlier.line} (same ring, quadrant and description); "
        "nothing more to do",
    )


def _import_row(row, quadrant, *, owner, filename, today):
    reason = f"Imported from {filename} line {row.line}"
    technique = Technique.objects.filter(name__iexact=row.name).first()
    needs_owner = row.ring in OWNED_RINGS
    move_kwargs = {
        "by": owner,
        "reason": reason,
        "failed_constraint": _hold_reason(row) if row.ring in PARKED_RINGS else "",
    }
    if technique is None:
        technique = Technique(
            name=row.name,
            slug=_free_slug(row.name),
            quadrant=quadrant,
            description=row.description,
        )
        _give_imported_next_action(technique, row.ring, owner, today)
        technique.move_to(row.ring, **move_kwargs)
        return RowResult(
            row.line, row.name, "created", f"{row.ring.label} in {quadrant.name}{_owned(row)}"
        )
    changes = []
    if technique.quadrant_id != quadrant.pk:
        changes.append(f"quadrant {technique.quadrant.name} → {quadrant.name}")
        technique.quadrant = quadrant
    if _rendered(technique.description) != _rendered(row.description):
        changes.append("description changed")
        technique.description = row.description
    if technique.ring != row.ring:
        changes.append(f"ring {technique.get_ring_display()} → {row.ring.label}")
        if needs_owner:
            _give_imported_next_action(technique, row.ring, owner, today)
        technique.move_to(row.ring, **move_kwargs)
    elif changes:
        technique.save()
    if not changes:
        return RowResult(row.line, row.name, "unchanged", "already on the radar as in the file")
    return RowResult(row.line, row.name, "updated", "; ".join(changes))


def _rendered(description):
    """What a description looks like on the page: HTML and Markdown spellings of the same
    text (an export rendered back from Markdown, say) compare equal."""
    return sanitise_html(str(render_markdown(description)))


def _owned(row):
    return " (owner and next action set)" if row.ring in OWNED_RINGS else ""


def _give_imported_next_action(technique, ring, owner, today):
    """BYOR has no owner or next action: TRIAL/ASSESS entries get the importer's defaults."""
    if ring not in OWNED_RINGS:
        return
    technique.owner = technique.owner or owner
    if not technique.next_action:
        technique.next_action = IMPORTED_NEXT_ACTION
        technique.next_action_due = today + datetime.timedelta(days=IMPORTED_NEXT_ACTION_DAYS)


def _free_slug(name):
    base = slugify(name)[:190] or "technique"
    slug, number = base, 2
    while Technique.objects.filter(slug=slug).exists():
        slug, number = f"{base}-{number}", number + 1
    return slug


# --- exporting ---


@dataclass
class Export:
    text: str
    notes: list
    # The notes without technique names: what may go into a response header, which proxies
    # and browsers log and which must be latin-1.
    brief_notes: list = field(default_factory=list)


def _export_rows(skip_as):
    if skip_as not in SKIP_AS_CHOICES:
        raise ValueError(f"skip_as must be one of {', '.join(SKIP_AS_CHOICES)}")
    baseline = Review.last_before(timezone.localdate())
    techniques = Technique.objects.select_related("quadrant").order_by(
        "quadrant__order", "quadrant__name", "name"
    )
    if baseline:
        techniques = techniques.with_ring_at(baseline.covers_until, "baseline_ring")
    rows, skipped = [], []
    for technique in techniques:
        ring = technique.ring
        if ring == Ring.SKIP:
            skipped.append(technique.name)
            if skip_as == "omit":
                continue
            if skip_as == "hold":
                ring = Ring.HOLD
        status = movement(technique.ring, technique.baseline_ring) if baseline else ""
        rows.append(
            {
                "name": technique.name,
                "ring": Ring(ring).label,
                "quadrant": technique.quadrant.name,
                "isNew": "TRUE" if status == "new" else "FALSE",
                "status": STATUS_LABELS[status],
                "description": str(render_markdown(technique.description)),
            }
        )
    notes, brief_notes = [], []
    if skipped:
        action = {
            "hold": "exported as Hold (BYOR cannot draw Skip)",
            "omit": "left out (BYOR cannot draw Skip)",
            "skip": "exported as Skip, which BYOR cannot draw (fine for Assay imports)",
        }[skip_as]
        brief_notes.append(f"{len(skipped)} Skip technique(s) {action}")
        notes.append(f"{brief_notes[-1]}: {', '.join(skipped)}")
    quadrant_count = Quadrant.objects.filter(techniques__isnull=False).distinct().count()
    if quadrant_count > 4:
        brief_notes.append(f"BYOR draws 4 quadrants; this radar uses {quadrant_count}")
        notes.append(brief_notes[-1])
    return rows, notes, brief_notes


def export_byor_csv(skip_as="hold"):
    rows, notes, brief_notes = _export_rows(skip_as)
    out = io.StringIO()
    writer = csv.DictWriter(
        out, fieldnames=["name", "ring", "quadrant", "isNew", "status", "description"]
    )
    writer.writeheader()
    writer.writerows(rows)
    return Export(out.getvalue(), notes, brief_notes)


def export_byor_json(skip_as="hold"):
    rows, notes, brief_notes = _export_rows(skip_as)
    return Export(json.dumps(rows, indent=2, ensure_ascii=False) + "\n", notes, brief_notes)


def export_markdown():
    """The whole radar as Markdown: per quadrant and ring, each technique with owner, next
    action, tags, its description and the reason of its last move."""
    techniques = list(
        Technique.objects.select_related("quadrant", "owner")
        .prefetch_related("tags", "moves__superseded_by")
        .order_by("name")
    )
    for technique in techniques:
        # Indented so that a multi-paragraph description stays inside its list item.
        technique.indented_description = textwrap.indent(technique.description.strip(), "  ")
        technique.last_move = max(technique.moves.all(), key=lambda move: (move.moved_at, move.pk))
    quadrants = []
    for quadrant in Quadrant.objects.all():
        rings = []
        for ring in Ring:
            members = [t for t in techniques if t.quadrant_id == quadrant.pk and t.ring == ring]
            if members:
                rings.append({"ring": ring, "techniques": members})
        if rings:
            quadrants.append({"quadrant": quadrant, "rings": rings})
    text = render_to_string(
        "radar/radar_export.md", {"quadrants": quadrants, "today": timezone.localdate()}
    )
    return Export(re.sub(r"\n{3,}", "\n\n", text), [])


EXPORTERS = {"byor-csv": export_byor_csv, "byor-json": export_byor_json}
