"""The SDK's production side that runs without a platform: bundling code, the in-job helpers."""

from __future__ import annotations

import io
import tarfile

import pytest

from sdk import InvalidRequest, job
from sdk.production import bundle


def names(content: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(content)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar}


def test_when_code_is_bundled_then_folders_recurse_and_caches_stay_out(tmp_path):
    (tmp_path / "pkg" / "__pycache__").mkdir(parents=True)
    (tmp_path / "train.py").write_text("import pkg")
    (tmp_path / "pkg" / "__init__.py").write_text("X = 1")
    (tmp_path / "pkg" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    content, listed = bundle("train.py", ["pkg"], root=tmp_path)
    assert listed == ["pkg/__init__.py", "train.py"]
    assert names(content) == {"pkg/__init__.py": b"X = 1", "train.py": b"import pkg"}


@pytest.mark.parametrize("item", ["../elsewhere.py", "/etc/passwd", "missing.py"])
def test_when_a_file_is_outside_the_workspace_or_missing_then_bundling_refuses_it(tmp_path, item):
    (tmp_path / "work").mkdir()
    (tmp_path / "elsewhere.py").write_text("x")
    (tmp_path / "work" / "train.py").write_text("x")
    with pytest.raises(InvalidRequest) as caught:
        bundle("train.py", [item], root=tmp_path / "work")
    assert "/" in str(caught.value)  # 中文 / English


def test_when_job_helpers_run_outside_a_job_then_they_say_so(monkeypatch):
    monkeypatch.delenv("SHUYU_JOB_DATA", raising=False)
    with pytest.raises(RuntimeError, match="only available inside a training job"):
        job.dataset("medical_visits")


def test_when_a_job_writes_metrics_then_they_land_in_its_output_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("SHUYU_JOB_OUTPUT", str(tmp_path))
    job.save_metrics(rows=12, auc=0.7)
    assert (tmp_path / "metrics.json").read_text() == '{"rows": 12, "auc": 0.7}'
