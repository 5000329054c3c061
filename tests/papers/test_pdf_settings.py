"""PDF storage and limits come from environment variables: files in the data folder by default,
in an S3-compatible bucket through django-storages when one is named; bad values stop start-up."""

import json
import subprocess

from tests.services import PYTHON, ROOT, service_env

PRINT = (
    "import json, config.settings as s; "
    "print(json.dumps({'storage': s.STORAGES['default'], 'media': str(s.MEDIA_ROOT), "
    "'max_bytes': s.ASSAY_PDF_MAX_BYTES}))"
)


def _run(tmp_path, **variables):
    env = service_env(ASSAY_DATA_DIR=str(tmp_path), DATABASE_URL=None, REDIS_URL=None)
    env.update(variables)
    return subprocess.run(
        [PYTHON, "-c", PRINT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_files_go_to_the_data_folder_by_default(tmp_path):
    values = json.loads(_run(tmp_path).stdout)
    assert values["storage"]["BACKEND"] == "django.core.files.storage.FileSystemStorage"
    assert values["media"] == str(tmp_path / "media")
    assert values["max_bytes"] == 50 * 1024 * 1024


def test_a_bucket_selects_the_s3_backend_of_django_storages(tmp_path):
    result = _run(
        tmp_path,
        ASSAY_S3_BUCKET="team-papers",
        ASSAY_S3_ENDPOINT_URL="https://minio.internal:9000",
        ASSAY_S3_REGION="eu-west-1",
        ASSAY_S3_PREFIX="assay",
    )
    storage = json.loads(result.stdout)["storage"]
    assert storage["BACKEND"] == "storages.backends.s3.S3Storage"
    assert storage["OPTIONS"] == {
        "bucket_name": "team-papers",
        "endpoint_url": "https://minio.internal:9000",
        "region_name": "eu-west-1",
        "location": "assay",
        "default_acl": None,
        "file_overwrite": False,
    }


def test_bad_pdf_settings_stop_start_up_naming_the_variable(tmp_path):
    for name, value in [
        ("ASSAY_ARXIV_PDF_URL", "https://arxiv.org/pdf/"),
        ("ASSAY_PDF_EXTRACT_MEMORY_MB", "16"),
        ("ASSAY_PDF_MAX_BYTES", "lots"),
        ("ASSAY_PDF_FETCH_PRIVATE_ADDRESSES", "maybe"),
    ]:
        result = _run(tmp_path, **{name: value})
        assert result.returncode != 0 and name in result.stderr, (name, result.stderr[-300:])
