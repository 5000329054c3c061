"""runs/search's filter and order_by, the basic part of MLflow's search syntax.

A filter is clauses joined by AND: `params.lr = '0.01'`, `tags."assay.variant" != 'baseline'`,
`attributes.status = 'FINISHED'`, `metrics.loss < 0.5` (the run's latest value); strings take
=, !=, LIKE, ILIKE, IN and NOT IN, numbers =, !=, <, <=, >, >=. An order_by is one of those
names with ASC or DESC. Anything else is refused, naming what was not understood.
"""

import re

from .mlflow_protocol import MLFLOW_STATUS, as_text, invalid, millis

ENTITIES = {
    "attribute": "attributes", "attributes": "attributes", "attr": "attributes",
    "run": "attributes", "param": "params", "params": "params", "parameter": "params",
    "parameters": "params", "tag": "tags", "tags": "tags", "metric": "metrics",
    "metrics": "metrics",
}  # fmt: skip
ATTRIBUTES = {"status", "run_name", "run_id", "start_time", "end_time", "user_id"}
NUMERIC_ATTRIBUTES = {"start_time", "end_time"}
STRING_OPS = {"=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"}
NUMBER_OPS = {"=", "!=", "<", "<=", ">", ">="}

IDENTIFIER = r"(?:(?P<entity>\w+)\.)?(?P<key>\"[^\"]+\"|`[^`]+`|[\w./:-]+)"
CLAUSE = re.compile(
    IDENTIFIER + r"\s*(?P<op>!=|<=|>=|=|<|>|\bNOT\s+IN\b|\bI?LIKE\b|\bIN\b)\s*"
    r"(?P<value>'(?:[^']|'')*'|\"[^\"]*\"|\([^)]*\)|-?[\d.]+(?:[eE][-+]?\d+)?)",
    re.IGNORECASE,
)
AND = re.compile(r"\s+AND\s+", re.IGNORECASE)
ORDER = re.compile(IDENTIFIER + r"(?:\s+(?P<direction>ASC|DESC))?", re.IGNORECASE)


def _identifier(match, text):
    entity = match["entity"]
    if entity is None:
        entity = "attributes"
    elif entity.lower() not in ENTITIES:
        raise invalid(
            f"Invalid entity type {entity!r} in {text!r}: use params, tags, metrics or attributes."
        )
    entity = ENTITIES[(entity or "attributes").lower()]
    key = match["key"].strip('"`')
    if entity == "attributes" and key not in ATTRIBUTES:
        raise invalid(
            f"Invalid attribute key {key!r} in {text!r}: searchable attributes are "
            f"{', '.join(sorted(ATTRIBUTES))}."
        )
    return entity, key


def _literal(text):
    if text[0] in "'\"":
        return text[1:-1].replace("''", "'")
    if text[0] == "(":
        return [_literal(item.strip()) for item in text[1:-1].split(",") if item.strip()]
    try:
        return float(text)
    except ValueError:
        raise invalid(f"Invalid number {text!r} in filter string.") from None


def parse_filter(text):
    """[(entity, key, op, value)] for a filter string; [] for none."""
    clauses = []
    for part in AND.split(text.strip()) if text.strip() else []:
        match = CLAUSE.fullmatch(part.strip())
        if match is None:
            raise invalid(
                f"Invalid clause(s) in filter string: {part.strip()!r}. A clause "
                "is like params.lr = '0.01' or metrics.loss < 0.5, joined by AND."
            )
        entity, key = _identifier(match, part)
        op = re.sub(r"\s+", " ", match["op"].upper())
        value = _literal(match["value"])
        numeric = entity == "metrics" or key in NUMERIC_ATTRIBUTES and entity == "attributes"
        if numeric and (op not in NUMBER_OPS or not isinstance(value, float)):
            raise invalid(
                f"Invalid clause {part.strip()!r}: {key} compares with a number "
                f"and one of {', '.join(sorted(NUMBER_OPS))}."
            )
        if not numeric and (op not in STRING_OPS or isinstance(value, float)):
            raise invalid(
                f"Invalid clause {part.strip()!r}: {key} compares with a quoted "
                f"string and one of {', '.join(sorted(STRING_OPS))}."
            )
        if (op in ("IN", "NOT IN")) != isinstance(value, list):
            raise invalid(f"Invalid clause {part.strip()!r}: IN takes a list ('a', 'b').")
        clauses.append((entity, key, op, value))
    return clauses


def parse_order_by(items):
    """[(entity, key, descending)] for order_by strings."""
    orders = []
    for text in items:
        if not isinstance(text, str):
            raise invalid(f"Invalid order_by clause {text!r}: a string such as 'metrics.loss'.")
        match = ORDER.fullmatch(text.strip())
        if match is None:
            raise invalid(f"Invalid order_by clause {text!r}: use e.g. metrics.loss ASC.")
        entity, key = _identifier(match, text)
        orders.append((entity, key, (match["direction"] or "ASC").upper() == "DESC"))
    return orders


def _value(run, latest, entity, key):
    """What a clause compares for a run: text, a number, or None when the run has none."""
    if entity == "params":
        return as_text(run.params[key]) if key in run.params else None
    if entity == "tags":
        return str(run.tags[key]) if key in run.tags else None
    if entity == "metrics":
        metric = latest.get(key)
        return metric["value"] if metric else None
    return {
        "status": MLFLOW_STATUS[run.status],
        "run_name": run.name,
        "run_id": str(run.pk),
        "user_id": run.tags.get("mlflow.user", ""),
        "start_time": millis(run.started_at),
        "end_time": millis(run.finished_at),
    }[key]


def _like(pattern, text, *, ignore_case):
    regex = "".join(
        ".*" if char == "%" else "." if char == "_" else re.escape(char) for char in pattern
    )
    return re.fullmatch(regex, text, re.IGNORECASE if ignore_case else 0) is not None


def _holds(value, op, wanted):
    if value is None:
        return False
    if op in ("LIKE", "ILIKE"):
        return _like(wanted, value, ignore_case=op == "ILIKE")
    if op == "IN":
        return value in wanted
    if op == "NOT IN":
        return value not in wanted
    return {"=": value == wanted, "!=": value != wanted, "<": value < wanted,
            "<=": value <= wanted, ">": value > wanted, ">=": value >= wanted}[op]  # fmt: skip


def matches(run, latest, clauses):
    """Whether the run (with `latest`, its metrics by key) meets every clause."""
    return all(_holds(_value(run, latest, entity, key), op, value)
               for entity, key, op, value in clauses)  # fmt: skip


def sort(runs, latest_by_run, orders):
    """Runs in order; newest first by default, runs without an ordering value last."""
    runs = sorted(runs, key=lambda run: run.pk, reverse=True)
    runs = sorted(runs, key=lambda run: run.started_at, reverse=True)
    for entity, key, descending in reversed(orders):
        present = [r for r in runs if _value(r, latest_by_run[r.pk], entity, key) is not None]
        absent = [r for r in runs if _value(r, latest_by_run[r.pk], entity, key) is None]
        present.sort(key=lambda r: _value(r, latest_by_run[r.pk], entity, key), reverse=descending)
        runs = present + absent
    return runs
