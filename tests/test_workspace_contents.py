"""The workspace's contents rules as a table: which contents API calls carry file content out
or in, for a script holding the API token and for JupyterLab in the browser."""

from __future__ import annotations

import pytest
from tornado import web

from kernels.downloads import WorkspaceContentsManager, contents_refusal

TEXT = {"type": "file", "format": "text", "content": "a,b\n1,2\n"}
NOTEBOOK = {"type": "notebook", "format": "json", "content": {"cells": [], "nbformat": 4}}
BASE64 = {"type": "file", "format": "base64", "content": "YSxi"}
CHUNK = {"type": "file", "format": "text", "content": "a", "chunk": 1}


@pytest.mark.parametrize(
    ("case", "method", "token", "content", "fmt", "is_dir", "body", "refused"),
    [
        ("token reads a file", "GET", True, True, None, False, None, True),
        ("token reads a file as text", "GET", True, True, "text", False, None, True),
        ("token reads raw bytes", "GET", True, True, "base64", False, None, True),
        ("token reads metadata only", "GET", True, False, None, False, None, False),
        ("token lists a folder", "GET", True, True, None, True, None, False),
        ("lab opens a notebook", "GET", False, True, None, False, None, False),
        ("lab opens text", "GET", False, True, "text", False, None, False),
        ("lab asks for raw bytes", "GET", False, True, "base64", False, None, True),
        ("token saves text", "PUT", True, None, None, False, TEXT, True),
        ("token saves a notebook", "PUT", True, None, None, False, NOTEBOOK, True),
        ("token uploads base64", "PUT", True, None, None, False, BASE64, True),
        ("token uploads a chunk", "PUT", True, None, None, False, CHUNK, True),
        ("token creates an empty file", "PUT", True, None, None, False, None, False),
        ("token creates a folder", "PUT", True, None, None, False, {"type": "directory"}, False),
        ("lab saves a notebook", "PUT", False, None, None, False, NOTEBOOK, False),
        ("lab saves text", "PUT", False, None, None, False, TEXT, False),
        ("lab uploads base64", "PUT", False, None, None, False, BASE64, True),
        ("token renames", "PATCH", True, None, None, False, {"path": "b.csv"}, False),
        ("token copies", "POST", True, None, None, False, {"copy_from": "a.ipynb"}, False),
        ("token deletes", "DELETE", True, None, None, False, None, False),
        ("lowercase method", "get", True, True, None, False, None, True),
    ],
)
def test_when_a_contents_call_is_classified_then_only_content_crossing_the_line_is_refused(
    case, method, token, content, fmt, is_dir, body, refused
):
    got = contents_refusal(
        method, token=token, content=bool(content), fmt=fmt, is_dir=is_dir, body=body
    )
    assert got is refused, case


@pytest.fixture
def manager(tmp_path):
    (tmp_path / "data.parquet").write_bytes(b"PAR1\x00\xff\xfe" * 8)
    (tmp_path / "notes.txt").write_text("hello")
    return WorkspaceContentsManager(root_dir=str(tmp_path))


def test_when_a_binary_file_is_read_without_a_format_then_its_bytes_are_refused(manager):
    with pytest.raises(web.HTTPError) as caught:
        manager.get("data.parquet", content=True)
    assert caught.value.status_code == 403
    assert manager.get("data.parquet", content=False)["content"] is None


def test_when_text_is_read_as_base64_then_it_is_refused_and_as_text_it_is_served(manager):
    with pytest.raises(web.HTTPError):
        manager.get("notes.txt", content=True, format="base64")
    assert manager.get("notes.txt", content=True, format="text")["content"] == "hello"
