"""`python -m assay_client sync`: upload runs spooled while Assay was away or took no token."""

import argparse
import logging
import sys

from .spool import default_dir
from .upload import sync, tokens_from

EPILOG = """\
tokens: each spool file is uploaded with the token of its experiment, taken from --tokens
FILE (lines EXPERIMENT=TOKEN, # comments), else $ASSAY_TOKENS (EXP-1=key,EXP-2=key), else
--token / $ASSAY_TOKEN for any experiment.

exit status: 0 when every file that could be uploaded was (files left only because Assay
could not be reached are reported; run sync again later); 1 when a file was left for a
reason you must fix: no token for its experiment, a token Assay refused (401/403: revoked,
for another experiment, read-only), or a file that could not be read; 2 on a usage error.
"""


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
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sync_parser.add_argument(
        "--spool",
        metavar="DIR",
        help=f"spool folder (default: $ASSAY_SPOOL_DIR, else {default_dir()})",
    )
    sync_parser.add_argument("--url", help="Assay URL (default: $ASSAY_URL)")
    sync_parser.add_argument(
        "--token", help="token for experiments without their own (default: $ASSAY_TOKEN)"
    )
    sync_parser.add_argument(
        "--tokens", metavar="FILE", help="file of EXPERIMENT=TOKEN lines, one per experiment"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    try:
        tokens = tokens_from(tokens_file=args.tokens)
        results = sync(args.spool, url=args.url, token=args.token, tokens=tokens)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for result in results:
        print(f"{result.path.name}: {_describe(result)}")
    uploaded = sum(result.points for result in results)
    left = [result for result in results if result.left]
    print(f"uploaded {uploaded} points from {len(results)} spool file(s); {len(left)} left")
    return 1 if any(result.needs_user for result in left) else 0


def _describe(result):
    done = f"uploaded {result.points} points and {result.records} other record(s)"
    if result.refused:
        done += f"; Assay refused {result.refused} record(s) as invalid (dropped, see above)"
    if not result.left:
        return f"{done}; done, removed from the spool"
    return f"{done}; LEFT in the spool: {result.reason}"


if __name__ == "__main__":
    sys.exit(main())
