"""What a job's code does, read from its syntax tree against an allow-list.

A job of a scenario the production rules auto-approve runs on raw data without a person having
read it, so its code must be plainly what it looks like. A keyword scan is no such proof: the
name of any forbidden call can be assembled at run time (``getattr(__builtins__, 'ex' + 'ec')``,
``''.join(map(chr, …))``, ``importlib``, a walk of ``().__class__.__mro__``). Here every file of
the bundle is parsed, and anything outside the allow-list is reported:

* imports: the scientific stack of the job image, a small part of the standard library, the
  ``job`` API of the SDK and the bundle's own modules;
* no dynamic code or reflection: ``exec``, ``eval``, ``compile``, ``__import__``, ``globals``,
  ``vars`` …, nor ``getattr``/``setattr``/``delattr``/``hasattr`` with a name that is not a
  literal (or is a dunder);
* no dunder attribute or name (``__class__``, ``__globals__``, ``__builtins__`` …) beyond a few
  harmless ones;
* no way into a Spark session's JVM (``._jvm``, ``.sparkContext`` …: Py4J calls Java by name);
* file access only through the ``job`` API (``open`` and path-based readers and writers take a
  path from ``job.output(...)``).

Nothing found here is refused: the job goes to a human reviewer, who reads the reasons (in
Chinese and English) beside the code.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from hub.i18n import Msg

# The job image's scientific stack (pyproject's ``science`` set and what it brings along).
SCIENCE = {
    "numpy", "pandas", "pyarrow", "scipy", "sklearn", "statsmodels", "lightgbm", "xgboost",
    "duckdb", "polars", "matplotlib", "onnx", "onnxruntime", "skl2onnx", "onnxmltools", "patsy",
    "formulaic", "dateutil", "mpl_toolkits",
}  # fmt: skip
# Standard library modules that compute and nothing else (no files, processes, network, code).
STDLIB = {
    "__future__", "abc", "bisect", "calendar", "collections", "dataclasses", "datetime",
    "decimal", "enum", "fractions", "functools", "heapq", "itertools", "json", "math", "numbers",
    "operator", "random", "re", "statistics", "string", "textwrap", "time", "typing", "warnings",
    "zoneinfo", "copy", "unicodedata", "hashlib", "uuid", "pathlib", "base64",
}  # fmt: skip
SDK_ALLOWED = {"sdk.job"}  # ``from sdk import job`` / ``import sdk.job``
JOB_API = {"dataset", "sql", "params", "output", "save_metrics", "save_model", "connection",
           "spark"}  # fmt: skip
# Ways from a Spark session into its JVM (Py4J), where any Java class can be called by name.
SPARK_JVM = {"_jvm", "_jsc", "_jsparkSession", "_jconf", "_gateway", "_jdf", "_jreader",
             "sparkContext", "_sc"}  # fmt: skip
# Builtins that run, find or reach code or files by a computed name.
DYNAMIC = {
    "exec", "eval", "compile", "__import__", "globals", "locals", "vars", "breakpoint", "input",
    "open", "help", "memoryview", "__builtins__", "__loader__", "__spec__",
}  # fmt: skip
REFLECTION = {"getattr", "setattr", "delattr", "hasattr"}
SAFE_DUNDERS = {"__init__", "__name__", "__file__", "__version__", "__doc__"}
# Path-based readers and writers (pandas, numpy, pathlib, matplotlib, models): their path must
# come from the job API.
FILE_CALLS = {
    "read_csv", "read_parquet", "read_json", "read_excel", "read_pickle", "read_table",
    "read_feather", "read_orc", "read_sql", "read_fwf", "read_html", "read_xml", "read_hdf",
    "read_stata", "read_sas", "read_spss", "read_text", "read_bytes", "load", "loadtxt",
    "genfromtxt", "fromfile", "memmap", "to_pickle", "tofile", "load_model",
    "InferenceSession", "load_model_from_string", "read_csv_auto", "read_ndjson",
    "from_parquet", "scan_csv", "scan_parquet", "scan_ndjson", "read_ipc", "scan_ipc",
    "read_database", "read_avro", "iterdir", "glob", "rglob", "unlink", "rmdir", "symlink_to",
    "chmod", "mkdir", "touch", "write_text", "write_bytes", "open",
    "readlink", "resolve", "stat", "exists", "is_file", "is_dir", "hardlink_to",
}  # fmt: skip
# Method names that run code from a string or leave the process, whatever they are called on.
DANGEROUS_METHODS = {
    "eval", "exec", "system", "popen", "spawn", "fork", "execv", "execve", "load_extension",
    "install_extension", "attach",
}  # fmt: skip

WHY = {
    "syntax": Msg("无法解析", "cannot be parsed"),
    "import": Msg("导入允许范围之外的模块", "imports a module outside the allow-list"),
    "dynamic": Msg("动态执行或查找代码", "runs or looks up code dynamically"),
    "reflection": Msg("按非字面名称访问属性", "reaches an attribute by a computed name"),
    "dunder": Msg("访问内部（双下划线）属性", "reaches an internal (dunder) attribute"),
    "file": Msg("绕过作业接口读写文件", "reads or writes files outside the job API"),
    "method": Msg("调用可执行代码或外部程序的方法", "calls a method that runs code or programs"),
    "private": Msg("使用作业接口之外的内部成员", "uses an internal member beyond the job API"),
}
SHOWN = 8  # problems named in the reason; the details hold every one


@dataclass(frozen=True)
class Problem:
    """One thing outside the allow-list: where, what kind (a key of :data:`WHY`) and what."""

    file: str
    line: int
    kind: str
    what: str

    def as_dict(self) -> dict:
        return {"file": self.file, "line": self.line, "kind": self.kind, "what": self.what}


def _root(name: str) -> str:
    return name.split(".")[0]


def _allowed_module(name: str, local: set[str]) -> bool:
    if name in SDK_ALLOWED:
        return True
    root = _root(name)
    return root in SCIENCE or root in STDLIB or root in local


def _literal_name(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _own_file(node: ast.AST) -> bool:
    """``Path(__file__)``: the job's own code file."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("Path", "PurePath", "PurePosixPath")
        and len(node.args) == 1
        and isinstance(node.args[0], ast.Name)
        and node.args[0].id == "__file__"
    )


def _dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__") and len(name) > 4


class _Scan(ast.NodeVisitor):
    def __init__(self, file: str, local: set[str]):
        self.file, self.local = file, local
        self.problems: list[Problem] = []
        self.job_names: set[str] = set()  # names bound to the job module
        self.job_paths: set[str] = set()  # names bound to a path from job.output(...)
        self.duckdb_names: set[str] = set()  # DuckDB itself: a connection of the job's own

    def add(self, node: ast.AST, kind: str, what: str) -> None:
        self.problems.append(Problem(self.file, getattr(node, "lineno", 0), kind, what))

    # imports
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if not _allowed_module(alias.name, self.local):
                self.add(node, "import", alias.name)
            elif alias.name == "sdk.job" and alias.asname:
                self.job_names.add(alias.asname)
            elif _root(alias.name) == "duckdb":
                self.duckdb_names.add(alias.asname or "duckdb")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:  # the bundle's own modules
            return
        module = node.module or ""
        for alias in node.names:
            full = f"{module}.{alias.name}"
            if alias.name == "*" and _root(module) not in SCIENCE | STDLIB | self.local:
                self.add(node, "import", f"{module}.*")
            elif module == "sdk":
                if full not in SDK_ALLOWED:
                    self.add(node, "import", full)
                else:
                    self.job_names.add(alias.asname or alias.name)
            elif module == "sdk.job":
                if alias.name not in JOB_API:
                    self.add(node, "private", full)
            elif not _allowed_module(module, self.local):
                self.add(node, "import", module)
            elif alias.name in FILE_CALLS or _root(module) == "duckdb":
                self.add(node, "file", full)  # a reader or connection under a bare name
            elif alias.name in DANGEROUS_METHODS or alias.name in DYNAMIC:
                self.add(node, "dynamic", full)
        self.generic_visit(node)

    # names and attributes
    def visit_Name(self, node: ast.Name) -> None:
        if node.id in DYNAMIC:
            self.add(node, "dynamic", node.id)
        elif _dunder(node.id) and node.id not in SAFE_DUNDERS:
            self.add(node, "dunder", node.id)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if _dunder(node.attr) and node.attr not in SAFE_DUNDERS:
            self.add(node, "dunder", node.attr)
        elif node.attr in SPARK_JVM:
            self.add(node, "reflection", f".{node.attr}")
        elif (
            isinstance(node.value, ast.Name)
            and node.value.id in self.job_names
            and node.attr not in JOB_API
        ):
            self.add(node, "private", f"job.{node.attr}")
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        if self._job_path(node.value):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    self.job_paths.add(target.id)
        self.generic_visit(node)

    def _job_path(self, node: ast.AST) -> bool:
        """Whether ``node`` is a path the job API gave (``job.output(...)``, ``... / 'x'``) or
        one beside the job's own code (``Path(__file__).with_name('q.sql')``: the bundle)."""
        if isinstance(node, ast.Name):
            return node.id in self.job_paths
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            name = _literal_name(node.right)  # a literal part, never one that climbs out
            return name is not None and ".." not in name and self._job_path(node.left)
        if isinstance(node, ast.Attribute) and node.attr == "parent":
            return _own_file(node.value)  # the folder of the code, not above it
        if _own_file(node):
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            func = node.func
            if (
                isinstance(func.value, ast.Name)
                and func.value.id in self.job_names
                and func.attr == "output"
            ):
                return True
            if func.attr in ("with_suffix", "with_name"):
                return self._job_path(func.value)
        return False

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name) and func.id in REFLECTION:
            name = _literal_name(node.args[1]) if len(node.args) > 1 else None
            if name is None:
                self.add(node, "reflection", f"{func.id}(…)")
            elif _dunder(name) and name not in SAFE_DUNDERS:
                self.add(node, "dunder", f"{func.id}(…, {name!r})")
            for arg in node.args[:1] + node.args[2:]:
                self.visit(arg)
            for kw in node.keywords:
                self.visit(kw.value)
            return
        if isinstance(func, ast.Attribute):
            if func.attr in DANGEROUS_METHODS and not (
                isinstance(func.value, ast.Name) and func.value.id == "re"
            ):
                self.add(node, "method", f".{func.attr}(…)")
            elif func.attr in FILE_CALLS and not self._job_io(node):
                self.add(node, "file", f".{func.attr}(…)")
            elif isinstance(func.value, ast.Name) and func.value.id in self.duckdb_names:
                self.add(node, "file", f"duckdb.{func.attr}(…)")  # not the job's locked one
        self.generic_visit(node)

    def _job_io(self, node: ast.Call) -> bool:
        """A path-based call on a job path, or with one as its first (or path) argument."""
        func = node.func
        assert isinstance(func, ast.Attribute)
        if self._job_path(func.value):
            return True
        first = node.args[0] if node.args else None
        for kw in node.keywords:
            if kw.arg in ("path", "fname", "file", "filepath_or_buffer", "source", "model_file"):
                first = kw.value
        return first is not None and self._job_path(first)


def scan_source(name: str, source: str, local: set[str] = frozenset()) -> list[Problem]:
    """What of ``source`` (the file ``name`` of a bundle whose own modules are ``local``) lies
    outside the allow-list; an unparsable file is one problem."""
    try:
        tree = ast.parse(source, filename=name)
    except (SyntaxError, ValueError) as e:
        return [Problem(name, getattr(e, "lineno", 0) or 0, "syntax", type(e).__name__)]
    scan = _Scan(name, set(local))
    scan.visit(tree)
    return scan.problems


def local_modules(files: dict[str, bytes]) -> set[str]:
    """The top-level names the bundle's own modules and packages import as."""
    out = set()
    for path in files:
        if path.endswith(".py"):
            parts = path[:-3].split("/")
            out.add(parts[0])
    return out - {"sdk"}


def scan_bundle(files: dict[str, bytes]) -> list[Problem]:
    """Every problem of every Python file of a bundle (a file that is not UTF-8 is one)."""
    local = local_modules(files)
    out: list[Problem] = []
    for name, data in sorted(files.items()):
        if not name.endswith(".py"):
            continue
        try:
            source = data.decode("utf-8")
        except UnicodeDecodeError:
            out.append(Problem(name, 0, "syntax", "not UTF-8"))
            continue
        out += scan_source(name, source, local)
    return out


def reason(problems: list[Problem]) -> Msg:
    """The bilingual reason a reviewer reads: the kinds found and the first few places."""
    shown = problems[:SHOWN]
    zh = "；".join(f"{p.file}:{p.line} {WHY[p.kind].zh}（{p.what}）" for p in shown)
    en = "; ".join(f"{p.file}:{p.line} {WHY[p.kind].en} ({p.what})" for p in shown)
    more = len(problems) - len(shown)
    if more > 0:
        zh += f"；另有 {more} 处"
        en += f"; {more} more"
    return Msg(
        f"代码超出自动批准的允许范围，须由审核员审阅：{zh}",
        f"the code goes beyond what may be approved automatically; a reviewer must read it: {en}",
    )
