"""No file leaves or enters a workspace except through reviewed requests.

Raw file serving (``/files/``, which JupyterLab's download actions use), nbconvert downloads and
file uploads are refused on the server, whatever the browser UI offers.
"""

from __future__ import annotations

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.services.contents.largefilemanager import LargeFileManager
from tornado import web

REFUSED = "工作空间不允许下载或上传文件，数据只能经审核的申请出入 / downloads and uploads are disabled; data leaves and enters only through reviewed requests"


class DownloadsDisabledHandler(JupyterHandler):
    """Answers every raw-file and nbconvert request with 403 and the reason."""

    def initialize(self, **kwargs) -> None:  # accepts the file handler's parameters (path, …)
        pass

    def _refuse(self, *args, **kwargs) -> None:
        raise web.HTTPError(403, REFUSED)

    get = head = post = put = _refuse

    def check_xsrf_cookie(self) -> None:  # nothing is changed; refuse before any check
        return None


class WorkspaceContentsManager(LargeFileManager):
    """Saves notebooks and text the user edits; refuses uploaded files (base64 or chunked)."""

    def save(self, model: dict, path: str = "") -> dict:
        if model.get("chunk") is not None or (
            model.get("type") == "file" and model.get("format") == "base64"
        ):
            raise web.HTTPError(403, REFUSED)
        return super().save(model, path)
