"""What `Run.log()` (and `Run()` for the run's own fields) accepts, checked at the call so a
bad point never reaches a batch, and a run Assay would refuse never starts.

The limits are the server's (experiments/api.py, `PointIn`): a key of 1 to 100 characters,
a bucket of at most 100, a step from 0 to 2**63 - 1, a number (NaN and infinities included).
Keys and buckets may not hold control characters: PostgreSQL cannot store NUL, and a tab or
newline in a metric name is always a bug.
"""

import math
import operator
import re

MAX_KEY_LENGTH = 100
MAX_BUCKET_LENGTH = 100
MAX_STEP = 2**63 - 1
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_label(what, text, *, max_length, required=True):
    """`text` as a metric key or bucket label, else ValueError/TypeError naming it."""
    if not isinstance(text, str):
        raise TypeError(f"{what} {text!r}: must be a str, not {type(text).__name__}")
    if required and not text:
        raise ValueError(f"{what} must not be empty")
    if len(text) > max_length:
        raise ValueError(f"{what} {text[:20]!r}...: {len(text)} characters, at most {max_length}")
    if _CONTROL.search(text):
        raise ValueError(f"{what} {text!r}: control characters are not allowed")
    return text


def _integer(value, what):
    """`value` as an int: Python and NumPy integers, 0-d integer tensors; not bool, float or str."""
    if isinstance(value, bool) or _is_bool_dtype(value):
        raise TypeError(f"{what} {value!r}: must be an integer, not a bool")
    try:
        return operator.index(value)
    except TypeError:
        kind = type(value).__name__
        raise TypeError(f"{what} {value!r}: must be an integer, not {kind}") from None


def check_step(step):
    """`step` as an int: Python and NumPy integers, not bool, float or str; 0 to 2**63 - 1."""
    step = _integer(step, "step")
    if not 0 <= step <= MAX_STEP:
        raise ValueError(f"step {step}: must be between 0 and 2**63 - 1")
    return step


def metric_value(key, value):
    """`value` as a float: Python numbers, NumPy and PyTorch scalars, 0-d arrays and tensors.

    NaN and infinities are kept (Assay stores and flags them). Bools, strings, None and arrays
    with more than one element raise TypeError naming `key`.
    """
    if isinstance(value, bool) or _is_bool_dtype(value):
        raise TypeError(f"metric {key!r}: a bool is not a metric value")
    if isinstance(value, (float, int)):
        try:
            return float(value)
        except OverflowError:
            raise ValueError(f"metric {key!r}: {value} is too large for a float") from None
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"metric {key!r}: must be a number, not {type(value).__name__}")
    shape = getattr(value, "shape", None)
    if shape is not None and tuple(shape) != ():
        raise TypeError(
            f"metric {key!r}: must be a scalar, not an array of shape {tuple(shape)} "
            "(log its mean, or one key per element)"
        )
    if callable(getattr(value, "detach", None)):
        value = value.detach()  # a loss tensor still attached to its graph
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        raise TypeError(f"metric {key!r}: {type(value).__name__} is not a number") from None


def encode(number):
    """A float as JSON can carry it: NaN and infinities as the strings Assay accepts."""
    if math.isfinite(number):
        return number
    if math.isnan(number):
        return "NaN"
    return "Infinity" if number > 0 else "-Infinity"


def _is_bool_dtype(value):
    # numpy.bool_ and torch.bool tensors are not Python bools, yet float() takes them.
    dtype = getattr(value, "dtype", None)
    return dtype is not None and str(dtype) in ("bool", "torch.bool")


# What `start_run`/`Run` accepts: the server's limits (experiments/api.py, `RunIn`).
MAX_NAME_LENGTH = 200
MAX_VARIANT_LENGTH = 100
MAX_GIT_COMMIT_LENGTH = 64
MAX_HOST_LENGTH = 200
MAX_GPU_LENGTH = 200
MIN_SEED, MAX_SEED = -(2**31), 2**31 - 1


def check_seed(seed):
    """`seed` as an int (Python or NumPy integers, 0-d integer tensors) or None."""
    if seed is None:
        return None
    seed = _integer(seed, "seed")
    if not MIN_SEED <= seed <= MAX_SEED:
        raise ValueError(f"seed {seed}: must be between -2**31 and 2**31 - 1")
    return seed


def check_params(params):
    """`params` as plain JSON: NumPy/PyTorch scalars become Python numbers, arrays lists.

    Non-finite floats become the strings "NaN", "Infinity", "-Infinity" (JSON has no such
    numbers, and a param like max_grad_norm=inf is legitimate). Keys must be strings; any
    other value raises TypeError naming where it is, e.g. params['optimizer'].
    """
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict, not {type(params).__name__}")
    return _plain(params, "params")


def _plain(value, where):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)  # an IntEnum or other int subclass
    if isinstance(value, float):
        return encode(float(value))
    if isinstance(value, dict):
        plain = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where}: key {key!r} must be a str, not {type(key).__name__}")
            plain[key] = _plain(item, f"{where}[{key!r}]")
        return plain
    if isinstance(value, (list, tuple)):
        return [_plain(item, f"{where}[{index}]") for index, item in enumerate(value)]
    if callable(getattr(value, "tolist", None)) and hasattr(value, "dtype"):
        # NumPy scalars and arrays, PyTorch tensors: tolist() gives Python bools/ints/floats.
        if callable(getattr(value, "detach", None)):
            value = value.detach().cpu()
        return _plain(value.tolist(), where)
    raise TypeError(
        f"{where}: {type(value).__name__} is not JSON (use numbers, strings, bools, None, "
        "lists and dicts)"
    )
