"""The platform a run trains on, for Assay's drift comparisons: accelerator, runtime, framework
and precision, filled in so that a job reports them without being asked.

Each field takes the first value found, in this order:
1. what the caller passed (`platform={...}`, `precision=`),
2. the ASSAY_* environment variables (ASSAY_ACCELERATOR_VENDOR, ASSAY_ACCELERATOR,
   ASSAY_ACCELERATOR_COUNT, ASSAY_DRIVER_VERSION, ASSAY_RUNTIME, ASSAY_RUNTIME_VERSION,
   ASSAY_FRAMEWORK, ASSAY_FRAMEWORK_VERSION, ASSAY_PRECISION), set on purpose by whoever
   launches the job,
3. torch, if it can be imported: the device count, CUDA or ROCm version, torch's version and
   its default dtype, and the device's name once the job has initialised CUDA (asking for it
   earlier would initialise CUDA in a process that may yet fork workers: create the run after
   the model is on the GPU, or set ASSAY_ACCELERATOR),
4. what container images set: NVIDIA_DRIVER_VERSION, CUDA_VERSION, ROCM_VERSION.

Values given (1, 2) are checked with the server's rules and a bad one raises ValueError
naming it; detected values (3, 4) that would not pass are left out rather than stop a job.
"""

import importlib
import os
import re

VENDORS = ("nvidia", "amd", "intel", "google", "apple", "cpu", "other")
RUNTIMES = ("cuda", "rocm", "xpu", "mps", "xla", "cpu")
PRECISIONS = ("fp64", "fp32", "tf32", "bf16", "fp16", "fp8", "int8", "int4")
FIELDS = (
    "accelerator_vendor", "accelerator_model", "accelerator_count", "driver_version",
    "runtime", "runtime_version", "framework", "framework_version", "precision",
)  # fmt: skip
ENVIRONMENT = {
    "accelerator_vendor": "ASSAY_ACCELERATOR_VENDOR",
    "accelerator_model": "ASSAY_ACCELERATOR",
    "accelerator_count": "ASSAY_ACCELERATOR_COUNT",
    "driver_version": "ASSAY_DRIVER_VERSION",
    "runtime": "ASSAY_RUNTIME",
    "runtime_version": "ASSAY_RUNTIME_VERSION",
    "framework": "ASSAY_FRAMEWORK",
    "framework_version": "ASSAY_FRAMEWORK_VERSION",
    "precision": "ASSAY_PRECISION",
}
_VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+_-]*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# torch dtype names (str(dtype) without "torch.") and common spellings -> Assay's names.
DTYPES = {
    "float64": "fp64", "double": "fp64", "float32": "fp32", "float": "fp32",
    "tensorfloat32": "tf32", "bfloat16": "bf16", "float16": "fp16", "half": "fp16",
    "float8_e4m3fn": "fp8", "float8_e5m2": "fp8", "float8_e4m3fnuz": "fp8",
    "float8_e5m2fnuz": "fp8", "int8": "int8", "qint8": "int8", "quint8": "int8",
    "quint4x2": "int4", "int4": "int4", "uint4": "int4",
}  # fmt: skip
# Device names as torch reports them start with the vendor: "NVIDIA H100 80GB HBM3".
_VENDOR_PREFIXES = ("NVIDIA ", "AMD ", "Intel(R) ", "Intel ")


def precision_name(dtype):
    """Assay's name for a precision: "bf16" for torch.bfloat16, "bfloat16" or "BF16"."""
    text = str(dtype).strip().lower().removeprefix("torch.")
    return DTYPES.get(text, text)


def check(field, value):
    """A platform value as the server takes it, else ValueError/TypeError naming the field."""
    if field == "accelerator_count":
        if isinstance(value, bool) or not isinstance(value, int):
            try:
                value = int(str(value).strip())
            except ValueError:
                raise ValueError(f"{field} {value!r}: must be a whole number") from None
        if not 0 <= value < 2**15:
            raise ValueError(f"{field} {value}: must be between 0 and 32767")
        return value
    if not isinstance(value, str):
        raise TypeError(f"{field} {value!r}: must be a str, not {type(value).__name__}")
    value = value.strip()
    choices = {"accelerator_vendor": VENDORS, "runtime": RUNTIMES, "precision": PRECISIONS}
    if field == "precision":
        value = precision_name(value) if value else value
    if field in choices:
        value = value.lower()
        if value and value not in choices[field]:
            raise ValueError(f"{field} {value!r}: must be one of {', '.join(choices[field])}")
    elif field.endswith("_version"):
        if value and (len(value) > 50 or not _VERSION.match(value)):
            raise ValueError(f"{field} {value!r}: a version is letters, digits and . + _ -")
    else:
        limit = 100 if field == "accelerator_model" else 50
        if len(value) > limit or _CONTROL.search(value):
            raise ValueError(f"{field} {value[:20]!r}: at most {limit} printable characters")
    return value


def detect(platform=None, *, precision=None, environ=None):
    """The platform fields to report: {field: value} for each field some source knows."""
    environ = os.environ if environ is None else environ
    given = dict(platform or {})
    unknown = set(given) - set(FIELDS)
    if unknown:
        raise ValueError(f"platform: unknown fields {', '.join(sorted(unknown))}")
    if precision is not None:
        given["precision"] = precision if isinstance(precision, str) else precision_name(precision)
    found = {}
    for field, value in given.items():
        if value is not None and value != "":
            found[field] = check(field, value)
    for field, name in ENVIRONMENT.items():
        if field not in found and environ.get(name, "").strip():
            try:
                found[field] = check(field, environ[name])
            except (TypeError, ValueError) as error:
                raise ValueError(f"{name}: {error}") from None
    for source in (_from_torch(), _from_images(environ)):
        for field, value in source.items():
            if field in found or value in (None, ""):
                continue
            try:
                found[field] = check(field, value)
            except (TypeError, ValueError):
                pass  # a detected value Assay would refuse: better unknown than a dead job
    return found


def _torch():
    try:
        return importlib.import_module("torch")
    except Exception:  # noqa: BLE001 - ImportError, or a broken install raising anything
        return None


def _from_torch():
    torch = _torch()
    if torch is None:
        return {}
    found = {"framework": "torch", "framework_version": str(getattr(torch, "__version__", ""))}
    cuda = getattr(torch, "cuda", None)
    version = getattr(torch, "version", None)
    on_gpu = False
    try:
        on_gpu = bool(cuda and cuda.is_available())
        if on_gpu:
            found["accelerator_count"] = int(cuda.device_count())
            hip = getattr(version, "hip", None)
            if hip:
                found.update(accelerator_vendor="amd", runtime="rocm", runtime_version=str(hip))
            else:
                found.update(accelerator_vendor="nvidia", runtime="cuda",
                             runtime_version=str(getattr(version, "cuda", "") or ""))  # fmt: skip
            # Asking for the name initialises CUDA, which a process that forks workers after
            # creating its run must not have done: read it only once the job has.
            if getattr(cuda, "is_initialized", lambda: False)():
                name = str(cuda.get_device_name(0))
                for prefix in _VENDOR_PREFIXES:
                    name = name.removeprefix(prefix)
                found["accelerator_model"] = name.strip()
        elif _mps_available(torch):
            found.update(accelerator_vendor="apple", runtime="mps", accelerator_count=1)
        else:
            found.update(accelerator_vendor="cpu", runtime="cpu")
        found["precision"] = _default_precision(torch, on_gpu)
    except Exception:  # noqa: BLE001 - a driver failing to answer must not kill the job
        pass
    return found


def _mps_available(torch):
    mps = getattr(getattr(torch, "backends", None), "mps", None)
    return bool(mps and mps.is_available())


def _default_precision(torch, on_gpu):
    """torch's default dtype; fp32 on an NVIDIA GPU with TF32 matmuls allowed is tf32."""
    name = precision_name(torch.get_default_dtype())
    if name == "fp32" and on_gpu and not getattr(torch.version, "hip", None):
        matmul = getattr(getattr(getattr(torch, "backends", None), "cuda", None), "matmul", None)
        if getattr(matmul, "allow_tf32", False) is True:
            return "tf32"
    return name


def _from_images(environ):
    """What NVIDIA's and AMD's container images put in the environment."""
    found = {}
    if environ.get("NVIDIA_DRIVER_VERSION"):
        found.update(accelerator_vendor="nvidia", driver_version=environ["NVIDIA_DRIVER_VERSION"])
    if environ.get("CUDA_VERSION"):
        found.update(runtime="cuda", runtime_version=environ["CUDA_VERSION"])
        found.setdefault("accelerator_vendor", "nvidia")
    elif environ.get("ROCM_VERSION"):
        found.update(accelerator_vendor="amd", runtime="rocm",
                     runtime_version=environ["ROCM_VERSION"])  # fmt: skip
    return found
