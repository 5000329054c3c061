"""Assay client: report runs, metrics and artifacts from training jobs.

import assay_client
with assay_client.start_run(experiment="EXP-12", name="lora-r16-s1",
                            variant="candidate", seed=1, params={"r": 16}) as run:
    for step in range(steps):
        run.log({"loss": loss, "accuracy": acc}, step=step)
        if run.should_stop():
            break
"""

import os

from .run import Run, start_run
from .spool import Spool
from .transport import AssayError, Transport


def sync(spool_dir=None, *, url=None, token=None):
    """Upload every spooled run; returns (points uploaded, spool files still left)."""
    url = url or os.environ.get("ASSAY_URL")
    transport = Transport(url, token or os.environ.get("ASSAY_TOKEN"))
    return Spool(spool_dir).sync(transport)


__all__ = ["AssayError", "Run", "Spool", "Transport", "start_run", "sync"]
__version__ = "0.1.0"
