"""No file leaves or enters a workspace except through reviewed requests.

Raw file serving (``/files/``, which JupyterLab's download actions use), nbconvert downloads and
file uploads are refused on the server, whatever the browser UI offers.

The contents API is guarded the same way (:class:`GuardedContentsHandler`), with one line drawn
between JupyterLab in the workspace and a script anywhere else:

* **Raw file content never**, for anyone: no file is read or written as base64 (JupyterLab's
  upload, and the way a binary file such as Parquet or Excel would leave), nor in chunks.
* **Token-authenticated calls get no file content at all**: the API token sits in every kernel's
  environment, so a copy of it on a laptop, used through the public proxy, must not read a file
  (``GET /api/contents/x.csv?content=1``) or write one (``PUT`` with text or notebook content).
  Listings, metadata, new untitled files, copies, renames and deletes stay: none carries content.
* **JupyterLab in the browser** (authenticated by the hub's OAuth cookie, which only a sign-in
  with the staff member's password and one-time code gives) opens and saves notebooks, code and
  text as JSON models, which is what the workspace is for; what it reads is what the screen
  shows. The token alone — the credential that sits in the kernel and leaks — opens nothing.
  (A script that signs in as the person, with both factors, is that person at a browser: the
  sign-in is audited, and raw bytes and uploads stay refused for it too.)
"""

from __future__ import annotations

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.services.contents.handlers import ContentsHandler
from jupyter_server.services.contents.largefilemanager import LargeFileManager
from jupyter_server.utils import ensure_async
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


def contents_refusal(
    method: str, *, token: bool, content: bool, fmt: str | None, is_dir: bool, body: dict | None
) -> bool:
    """Whether a contents API call must be refused (pure; see the module docstring).

    Args:
        method: the HTTP method.
        token: the call was authenticated by an API token, not JupyterLab's cookie and XSRF.
        content: a GET asked for content (``content=1``, the default).
        fmt: a GET's requested format (``text``, ``base64`` or ``None``).
        is_dir: the GET's path is a directory (whose content is only a listing).
        body: a PUT's JSON model.
    """
    method = method.upper()
    if method == "GET":
        if not content or is_dir:
            return False
        return fmt == "base64" or token
    if method == "PUT":
        model = body or {}
        carries = model.get("content") is not None or model.get("chunk") is not None
        return carries and (token or model.get("format") == "base64")
    return False


class GuardedContentsHandler(ContentsHandler):
    """The contents API with :func:`contents_refusal` applied before the stock handler."""

    async def _refuse_if(self, path: str, body: dict | None = None) -> None:
        content = self.get_query_argument("content", "1") != "0"
        is_dir = False
        if self.request.method == "GET" and content:
            is_dir = await ensure_async(self.contents_manager.dir_exists(path or ""))
        if contents_refusal(self.request.method, token=bool(self.token_authenticated),
                            content=content, fmt=self.get_query_argument("format", None),
                            is_dir=is_dir, body=body):  # fmt: skip
            self.log.warning(
                "Refused %s %s (token: %s)", self.request.method, path, self.token_authenticated
            )
            raise web.HTTPError(403, REFUSED)

    @web.authenticated
    async def get(self, path: str = "") -> None:
        await self._refuse_if(path)
        await super().get(path)

    @web.authenticated
    async def put(self, path: str = "") -> None:
        await self._refuse_if(path, self.get_json_body())
        await super().put(path)


class WorkspaceContentsManager(LargeFileManager):
    """Saves notebooks and text the user edits; refuses uploaded files (base64 or chunked) and
    never returns a file's raw bytes (a binary file read without a format comes back as base64)."""

    def get(self, path: str, content: bool = True, type=None, format=None, **kwargs) -> dict:
        if content and format == "base64":
            raise web.HTTPError(403, REFUSED)
        model = super().get(path, content=content, type=type, format=format, **kwargs)
        if content and model.get("type") == "file" and model.get("format") == "base64":
            raise web.HTTPError(403, REFUSED)
        return model

    def save(self, model: dict, path: str = "") -> dict:
        if model.get("chunk") is not None or (
            model.get("type") == "file" and model.get("format") == "base64"
        ):
            raise web.HTTPError(403, REFUSED)
        return super().save(model, path)
