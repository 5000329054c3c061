"""Uploading spools of several experiments, each with its own token."""

import os
from pathlib import Path

from .spool import Spool
from .transport import Transport


def parse_tokens(text, *, source):
    """{experiment: token} from `EXP-1=key` entries, one a line or separated by commas.

    Blank entries and lines starting with # are ignored. Errors name the entry by its
    position, never the token.
    """
    tokens = {}
    entries = [part for line in text.splitlines() for part in line.split(",")]
    for number, entry in enumerate(entries, 1):
        entry = entry.strip()
        if not entry or entry.startswith("#"):
            continue
        experiment, sep, token = (part.strip() for part in entry.partition("="))
        if not sep or not experiment or not token:
            raise ValueError(f"{source}: entry {number} is not EXPERIMENT=TOKEN")
        tokens[experiment] = token
    return tokens


def tokens_from(*, tokens_file=None, environ=None):
    """The experiment tokens: $ASSAY_TOKENS, overridden entry by entry by `tokens_file`."""
    environ = os.environ if environ is None else environ
    tokens = parse_tokens(environ.get("ASSAY_TOKENS", ""), source="ASSAY_TOKENS")
    if tokens_file:
        text = Path(tokens_file).read_text(encoding="utf-8")
        tokens.update(parse_tokens(text, source=str(tokens_file)))
    return tokens


def sync(spool_dir=None, *, url=None, token=None, tokens=None, max_mb=None):
    """Upload every spooled run; returns a FileResult per spool file (see spool.FileResult).

    Each file is uploaded with the token of its experiment: `tokens` ({experiment: token},
    default from $ASSAY_TOKENS), else `token` (default $ASSAY_TOKEN) for any experiment.
    Files of an experiment with no token are left, as are files Assay did not take.
    """
    url = url or os.environ.get("ASSAY_URL")
    if not url:
        raise ValueError("No Assay URL: set ASSAY_URL or pass url= (--url)")
    tokens = tokens_from() if tokens is None else dict(tokens)
    fallback = token or os.environ.get("ASSAY_TOKEN")
    transports = {}

    def transport_for(experiment):
        key = tokens.get(experiment, fallback)
        if not key:
            return None
        if key not in transports:
            transports[key] = Transport(url, key)
        return transports[key]

    return Spool(spool_dir, max_mb=max_mb).sync(transport_for)
