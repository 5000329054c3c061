"""`python -m assay_client sync [--spool DIR]`: upload runs spooled while Assay was away."""

import argparse
import logging
import sys

from . import sync
from .spool import default_dir
from .transport import AssayError


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m assay_client", description="Assay client commands."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    sync_parser = commands.add_parser(
        "sync",
        help="upload spooled runs",
        description="Upload runs spooled while Assay could not be reached. Safe to repeat: "
        "Assay stores each batch once.",
    )
    sync_parser.add_argument(
        "--spool",
        metavar="DIR",
        help=f"spool folder (default: $ASSAY_SPOOL_DIR, else {default_dir()})",
    )
    sync_parser.add_argument("--url", help="Assay URL (default: $ASSAY_URL)")
    sync_parser.add_argument("--token", help="experiment token (default: $ASSAY_TOKEN)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    try:
        uploaded, left = sync(args.spool, url=args.url, token=args.token)
    except (AssayError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"uploaded {uploaded} points; {len(left)} spool file(s) left")
    for path in left:
        print(f"  not uploaded yet: {path}")
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
