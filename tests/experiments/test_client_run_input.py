"""start_run/Run check the run's own fields at the call, like log() checks points.

Before, a seed Assay refuses (422) or a NumPy value in params (which json.dumps cannot
write) failed in the sender thread on every turn: the run was never created, nothing was
sent or spooled, and the job was never told. No server is needed here.
"""

import json
import math

import numpy
import pytest
import torch
from assay_client import Run

from config.api import api
from tests.services import free_port


def offline_run(tmp_path, **fields):
    options = {"name": "fields", **fields}
    return Run("EXP-12", url=f"http://127.0.0.1:{free_port()}", token="assay_x_y",
               spool_dir=tmp_path, retries=0, flush_interval=0.05, **options)  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "error", "named"),
    [
        ({"seed": 2**31}, ValueError, "seed 2147483648"),
        ({"seed": -(2**31) - 1}, ValueError, "seed -2147483649"),
        ({"seed": numpy.int64(2**40)}, ValueError, "seed 1099511627776"),
        ({"seed": 1.5}, TypeError, "seed 1.5"),
        ({"seed": "7"}, TypeError, "seed '7'"),
        ({"seed": True}, TypeError, "seed True"),
        ({"name": ""}, ValueError, "name must not be empty"),
        ({"name": "n" * 201}, ValueError, "name 'nnnn"),
        ({"variant": "v" * 101}, ValueError, "variant 'vvvv"),
        ({"variant": None}, TypeError, "variant None"),
        ({"gpu": "g" * 201}, ValueError, "gpu 'gggg"),
        ({"host": 7}, TypeError, "host 7"),
        ({"git_commit": "c" * 65}, ValueError, "git_commit 'cccc"),
        ({"params": [1, 2]}, TypeError, "params must be a dict"),
        ({"params": {"optimizer": object()}}, TypeError, "params['optimizer']: object"),
        ({"params": {"grid": {"lr": [0.1, {1}]}}}, TypeError, "params['grid']['lr'][1]: set"),
        ({"params": {3: "r"}}, TypeError, "params: key 3"),
    ],
)
def test_a_field_assay_would_refuse_raises_at_the_call_naming_it(tmp_path, fields, error, named):
    with pytest.raises(error) as raised:
        offline_run(tmp_path, **fields)
    assert named in str(raised.value)


def test_numpy_and_torch_values_in_seed_and_params_are_sent_as_plain_json(tmp_path):
    run = offline_run(
        tmp_path,
        seed=numpy.int64(3),
        params={
            "lr": numpy.float32(0.5),
            "r": numpy.int64(16),
            "betas": numpy.array([0.5, 0.25]),
            "warmup": torch.tensor(100),
            "scale": torch.tensor(0.5, requires_grad=True),
            "frozen": numpy.bool_(True),
            "clip": float("inf"),
            "decay": math.nan,
            "nested": {"layers": (numpy.int32(1), -math.inf)},
        },
    )
    run.log({"loss": 0.5}, step=0)
    run.finish()

    # The run and its point are in the spool, so the sender got past creating the run.
    records = [json.loads(line) for line in run.spool_path.read_text().splitlines()]
    assert [record["kind"] for record in records] == ["metrics", "finish"]
    payload = records[0]["run"]
    assert type(payload["seed"]) is int and payload["seed"] == 3
    assert payload["params"] == {
        "lr": 0.5, "r": 16, "betas": [0.5, 0.25], "warmup": 100, "scale": 0.5,
        "frozen": True, "clip": "Infinity", "decay": "NaN",
        "nested": {"layers": [1, "-Infinity"]},
    }  # fmt: skip
    assert type(payload["params"]["r"]) is int and type(payload["params"]["lr"]) is float


def test_the_client_checks_the_run_limits_the_server_has():
    from assay_client import points

    schema = api.get_openapi_schema()["components"]["schemas"]["RunIn"]["properties"]
    assert schema["name"]["maxLength"] == points.MAX_NAME_LENGTH
    assert schema["variant"]["maxLength"] == points.MAX_VARIANT_LENGTH
    assert schema["git_commit"]["maxLength"] == points.MAX_GIT_COMMIT_LENGTH
    assert schema["host"]["maxLength"] == points.MAX_HOST_LENGTH
    assert schema["gpu"]["maxLength"] == points.MAX_GPU_LENGTH
    seed = next(choice for choice in schema["seed"]["anyOf"] if choice.get("type") == "integer")
    assert (seed["minimum"], seed["exclusiveMaximum"]) == (points.MIN_SEED, points.MAX_SEED + 1)
