"""log() checks what it is given at the call and names the bad key (issue 8 §1).

No server is needed: the checks happen in the training process, before anything is buffered.
"""

import json

import numpy
import pytest
import torch
from assay_client import Run

from config.api import api
from tests.services import free_port


@pytest.fixture
def run(tmp_path):
    """A run whose Assay is unreachable: what it keeps ends up in its spool."""
    run = Run("EXP-12", "checks", url=f"http://127.0.0.1:{free_port()}", token="assay_x_y",
              spool_dir=tmp_path, retries=0, flush_interval=0.05)  # fmt: skip
    yield run
    run.finish()


def spooled_points(run):
    return [
        point
        for line in run.spool_path.read_text().splitlines()
        for point in json.loads(line)["body"].get("points", [])
    ]


LONG_KEY = "k" * 101


@pytest.mark.parametrize(
    ("metrics", "step", "error", "named"),
    [
        ({LONG_KEY: 1.0}, 0, ValueError, "'kkkkk"),
        ({"": 1.0}, 0, ValueError, "must not be empty"),
        ({"loss\n": 1.0}, 0, ValueError, "'loss\\n'"),
        ({"lo\x00ss": 1.0}, 0, ValueError, "'lo\\x00ss'"),
        ({7: 1.0}, 0, TypeError, "metric key 7"),
        ({"loss": True}, 0, TypeError, "'loss'"),
        ({"loss": "0.5"}, 0, TypeError, "'loss'"),
        ({"loss": None}, 0, TypeError, "'loss'"),
        ({"loss": numpy.array([0.1, 0.2])}, 0, TypeError, "'loss'"),
        ({"loss": torch.tensor([0.1, 0.2])}, 0, TypeError, "'loss'"),
        ({"loss": numpy.bool_(True)}, 0, TypeError, "'loss'"),
        ({"loss": 1.0}, -1, ValueError, "step -1"),
        ({"loss": 1.0}, True, TypeError, "step True"),
        ({"loss": 1.0}, 1.5, TypeError, "step 1.5"),
        ({"loss": 1.0}, "3", TypeError, "step '3'"),
        ({"loss": 1.0}, 2**63, ValueError, "step 9223372036854775808"),
    ],
)
def test_bad_input_raises_at_the_call_naming_it(run, metrics, step, error, named):
    with pytest.raises(error) as raised:
        run.log(metrics, step=step)
    assert named in str(raised.value)


def test_a_bad_bucket_raises_at_the_call(run):
    with pytest.raises(ValueError, match="bucket 'bbbb"):
        run.log({"accuracy": 0.5}, step=0, bucket="b" * 101)


def test_numpy_and_torch_scalars_become_floats_and_integer_steps(run):
    run.log({"a": numpy.float32(0.5), "b": numpy.int64(3), "c": numpy.array(0.25)},
            step=numpy.int64(4))  # fmt: skip
    run.log({"d": torch.tensor(0.75, requires_grad=True), "e": torch.tensor(2)},
            step=torch.tensor(5))  # fmt: skip
    run.log({"f": float("nan")})
    run.finish()

    points = {point["key"]: point for point in spooled_points(run)}
    assert {key: (point["value"], point["step"]) for key, point in points.items()} == {
        "a": (0.5, 4), "b": (3.0, 4), "c": (0.25, 4), "d": (0.75, 5), "e": (2.0, 5),
        "f": ("NaN", 6),
    }  # fmt: skip
    assert all(type(point["value"]) in (float, str) for point in points.values())
    assert all(type(point["step"]) is int for point in points.values())


def test_a_bad_point_costs_no_other_point_of_its_call(run):
    with pytest.raises(ValueError) as raised:
        run.log({"loss": 0.5, LONG_KEY: 1.0, "accuracy": 0.9, "": 2.0}, step=0)
    run.finish()

    # Every bad key is named in the one error; the good points of the call are kept.
    assert "'kkkkk" in str(raised.value) and "must not be empty" in str(raised.value)
    assert sorted(point["key"] for point in spooled_points(run)) == ["accuracy", "loss"]


def test_the_client_checks_the_limits_the_server_has():
    from assay_client import points

    schema = api.get_openapi_schema()["components"]["schemas"]["PointIn"]["properties"]
    assert schema["key"]["maxLength"] == points.MAX_KEY_LENGTH
    assert schema["key"]["minLength"] == 1
    assert schema["bucket"]["maxLength"] == points.MAX_BUCKET_LENGTH
    assert schema["step"]["minimum"] == 0
    assert schema["step"]["exclusiveMaximum"] == points.MAX_STEP + 1
