"""Assay client: report runs, metrics and artifacts from training jobs.

import assay_client
with assay_client.start_run(experiment="EXP-12", name="lora-r16-s1",
                            variant="candidate", seed=1, params={"r": 16}) as run:
    for step in range(steps):
        run.log({"loss": loss, "accuracy": acc}, step=step)
        if run.should_stop():
            break
"""

from .run import Run, start_run
from .spool import FileResult, Spool
from .transport import AssayAuthError, AssayError, Transport
from .upload import sync

__all__ = [
    "AssayAuthError",
    "AssayError",
    "FileResult",
    "Run",
    "Spool",
    "Transport",
    "start_run",
    "sync",
]
__version__ = "0.2.0"
