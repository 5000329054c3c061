"""The platform a run trained on: accepted and checked by the native API (the MLflow tags are
in test_mlflow_api.py), filled in by the Python client from torch or the environment,
explicit values first."""

import sys
import types

import pytest
from assay_client import platform as platforms
from django.core.cache import cache

from experiments.models import Run
from tests.api import Api
from tests.factories import make_experiment, make_token

pytestmark = pytest.mark.django_db

H100 = {
    "accelerator_vendor": "NVIDIA", "accelerator_model": "H100 80GB HBM3",
    "accelerator_count": 8, "driver_version": "550.54.15", "runtime": "cuda",
    "runtime_version": "12.4", "framework": "torch", "framework_version": "2.5.1+cu124",
    "precision": "bf16",
}  # fmt: skip


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()


@pytest.fixture
def experiment():
    return make_experiment(key="EXP-12")


@pytest.fixture
def api(client, experiment):
    return Api(client, make_token(experiment=experiment)[1])


def test_the_native_api_stores_the_platform_and_answers_it(api):
    response = api.post("/EXP-12/runs", {"name": "h100-s1", **H100})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["accelerator_vendor"] == "nvidia"  # one vendor however it is capitalised
    assert body["platform"] == "NVIDIA H100 80GB HBM3 · bf16"
    run = Run.objects.get()
    assert (run.accelerator_count, run.runtime_version, run.framework_version) == (
        8, "12.4", "2.5.1+cu124")  # fmt: skip
    assert "×8" in run.platform_detail and "CUDA 12.4" in run.platform_detail


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("accelerator_vendor", "nvidea", "must be one of nvidia, amd"),
        ("precision", "bfloat17", "must be one of fp64, fp32"),
        ("runtime", "opencl", "must be one of cuda, rocm"),
        ("runtime_version", "12.4; rm -rf", "String should match pattern"),
        ("accelerator_count", "8", "must be an integer"),
        ("accelerator_count", -1, "greater than or equal to 0"),
        ("accelerator_model", "x" * 101, "at most 100 characters"),
    ],
)
def test_the_native_api_refuses_a_bad_platform_value_naming_the_field(api, field, value, message):
    response = api.post("/EXP-12/runs", {"name": "r", field: value})
    assert response.status_code == 422, response.content
    detail = response.json()["detail"]
    assert field in detail and message in detail, detail
    assert not Run.objects.exists()


# --- the client fills the platform in ---


def fake_torch(*, hip=None, name="NVIDIA H100 80GB HBM3", count=8, available=True,
               tf32=False, dtype="torch.float32", initialized=True):  # fmt: skip
    """A module standing in for torch on a machine with (or without) GPUs; its CUDA is
    initialised (the job moved its model to the GPU) unless told otherwise."""
    torch = types.ModuleType("torch")
    torch.__version__ = "2.5.1+rocm6.2" if hip else "2.5.1+cu124"
    torch.version = types.SimpleNamespace(cuda=None if hip else "12.4", hip=hip)

    def device_name(index=0):
        # torch initialises CUDA here: a client doing it before the job would break forking.
        torch.cuda_initialised_by_client |= not initialized
        return name

    torch.cuda_initialised_by_client = False

    torch.cuda = types.SimpleNamespace(
        is_available=lambda: available, device_count=lambda: count,
        get_device_name=device_name, is_initialized=lambda: initialized,
    )  # fmt: skip
    torch.backends = types.SimpleNamespace(
        cuda=types.SimpleNamespace(matmul=types.SimpleNamespace(allow_tf32=tf32)),
        mps=types.SimpleNamespace(is_available=lambda: False),
    )
    torch.get_default_dtype = lambda: dtype
    torch.bfloat16 = "torch.bfloat16"
    return torch


@pytest.fixture
def torch_module(monkeypatch):
    def install(**options):
        module = fake_torch(**options)
        monkeypatch.setitem(sys.modules, "torch", module)
        return module

    return install


def test_the_client_reads_an_nvidia_gpu_from_torch(torch_module):
    torch_module()
    found = platforms.detect(environ={})
    assert found == {
        "framework": "torch", "framework_version": "2.5.1+cu124", "accelerator_count": 8,
        "accelerator_vendor": "nvidia", "runtime": "cuda", "runtime_version": "12.4",
        "accelerator_model": "H100 80GB HBM3", "precision": "fp32",
    }  # fmt: skip


def test_the_client_reads_an_amd_gpu_from_torch_and_the_dtype_the_user_passes(torch_module):
    torch = torch_module(hip="6.2.41133", name="AMD Instinct MI300X", count=4)
    found = platforms.detect(environ={}, precision=torch.bfloat16)
    assert (found["accelerator_vendor"], found["accelerator_model"]) == ("amd", "Instinct MI300X")
    assert (found["runtime"], found["runtime_version"]) == ("rocm", "6.2.41133")
    assert found["precision"] == "bf16" and found["accelerator_count"] == 4


def test_the_client_does_not_initialise_cuda_for_the_device_name(torch_module):
    torch = torch_module(initialized=False)
    found = platforms.detect(environ={"ASSAY_ACCELERATOR": "H100 SXM"})
    assert found["accelerator_model"] == "H100 SXM" and found["accelerator_count"] == 8
    assert "accelerator_model" not in platforms.detect(environ={})
    assert not torch.cuda_initialised_by_client


def test_fp32_with_tf32_matmuls_on_nvidia_is_reported_as_tf32(torch_module):
    torch_module(tf32=True)
    assert platforms.detect(environ={})["precision"] == "tf32"


def test_without_torch_the_environment_says_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch raises ImportError
    environ = {"NVIDIA_DRIVER_VERSION": "550.54.15", "CUDA_VERSION": "12.4.1",
               "ASSAY_ACCELERATOR": "H100 80GB HBM3", "ASSAY_PRECISION": "bf16",
               "ASSAY_ACCELERATOR_COUNT": "8"}  # fmt: skip
    assert platforms.detect(environ=environ) == {
        "accelerator_model": "H100 80GB HBM3", "accelerator_count": 8, "precision": "bf16",
        "accelerator_vendor": "nvidia", "driver_version": "550.54.15", "runtime": "cuda",
        "runtime_version": "12.4.1",
    }  # fmt: skip
    assert platforms.detect(environ={"ROCM_VERSION": "6.2"})["accelerator_vendor"] == "amd"


def test_explicit_values_win_over_assay_variables_which_win_over_torch(torch_module):
    torch_module()
    environ = {"ASSAY_ACCELERATOR": "H100 SXM", "ASSAY_PRECISION": "fp16",
               "CUDA_VERSION": "11.8"}  # fmt: skip
    found = platforms.detect({"accelerator_model": "H200"}, precision="int8", environ=environ)
    assert (found["accelerator_model"], found["precision"]) == ("H200", "int8")
    # torch's CUDA version is the one it runs, not the image's toolkit variable.
    assert found["runtime_version"] == "12.4"
    found = platforms.detect(environ=environ)
    assert (found["accelerator_model"], found["precision"]) == ("H100 SXM", "fp16")


def test_a_bad_value_given_raises_naming_it_and_a_bad_detected_one_is_left_out(torch_module):
    torch_module(name="NVIDIA \x07bell")
    with pytest.raises(ValueError, match="ASSAY_PRECISION: precision 'fp7'"):
        platforms.detect(environ={"ASSAY_PRECISION": "fp7"})
    with pytest.raises(ValueError, match="unknown fields gpu_model"):
        platforms.detect({"gpu_model": "H100"}, environ={})
    assert "accelerator_model" not in platforms.detect(environ={})


def test_what_a_client_run_sends_is_accepted_by_the_server(api, torch_module, tmp_path):
    import assay_client

    torch = torch_module(hip="6.2.41133", name="AMD Instinct MI300X")
    run = assay_client.Run("EXP-12", "mi300x-s1", url="http://127.0.0.1:9", token="t",
                           spool_dir=tmp_path, precision=torch.bfloat16, retries=0,
                           platform={"driver_version": "6.8.5"})  # fmt: skip
    try:
        payload = dict(run.create_payload)
    finally:
        run._stop = True
        run._flush_at_exit()
    response = api.post("/EXP-12/runs", payload)
    assert response.status_code == 201, response.content
    stored = Run.objects.get()
    assert stored.platform == "AMD Instinct MI300X · bf16"
    assert (stored.driver_version, stored.runtime) == ("6.8.5", "rocm")
