"""Request kinds as plug-ins: what an export, a job, a model, an import (…) is to the platform.

Every request goes through the one lifecycle (:mod:`hub.review.lifecycle`); what differs by kind
lives in one module per kind, a :class:`RequestKind` registered here under its name:

- its automated checks (:meth:`RequestKind.checks`, run by :mod:`hub.review.runner`), and
  whether a production rule may approve it when they all pass (:meth:`RequestKind.auto_approval`);
- what the production zone does once it is approved (:meth:`RequestKind.on_approved`, called by
  :mod:`hub.production.executor`);
- what the review console shows of it (:meth:`RequestKind.console`) and what the SDK's view of
  it holds beyond the common fields (:meth:`RequestKind.sdk_view`).

The core looks the kind up with :func:`get`; adding a kind is one module with ``@register`` on
its class, plus its name in :data:`BUILTIN`. The kinds' modules are loaded on first lookup, so
importing this package pulls in neither review nor production code.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from hub.i18n import Msg
from hub.settings import ProductCaps

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from hub.db.engine import Database
    from hub.db.models import Request
    from hub.privacy.node import Node
    from hub.production.rules import ProductionRules
    from hub.review.checks import Finding, Limits

BUILTIN = ("export", "job", "model", "import_", "registration", "privacy")  # modules of hub.kinds
PREVIEW_ROWS = 20  # rows of a table the review console shows

Later = Callable[[], str]  # work done after the approving session closed (a job's run)


@dataclass(frozen=True)
class Checking:
    """What the automated checks of a request are given besides the request and its content."""

    store: Path
    limits: Limits
    production: ProductionRules
    privacy: Node | None = None  # the platform's privacy node (None: not configured here)
    caps: ProductCaps = ProductCaps()  # guided product price caps (registrations)


def checking(
    store: Path,
    limits: Limits,
    production: ProductionRules | None = None,
    privacy: Node | None = None,
    caps: ProductCaps | None = None,
) -> Checking:
    """What the checks are given; ``production`` and ``caps`` ``None`` stand for the defaults."""
    if production is None:
        from hub.production.rules import ProductionRules

        production = ProductionRules()
    return Checking(store=store, limits=limits, production=production, privacy=privacy,
                    caps=caps if caps is not None else ProductCaps())  # fmt: skip


@dataclass(frozen=True)
class Zone:
    """The production zone an approved request is acted on in."""

    db: Database
    store: Path
    rules: ProductionRules
    limits: Limits
    seccomp: Path
    privacy: Node | None = None  # the platform's privacy node (None: not configured here)


class RequestKind:
    """One kind of request. Subclasses set :attr:`name` and override what their kind does."""

    name: ClassVar[str] = ""
    title: ClassVar[Msg | None] = None  # what people read: 结果导出 / export
    downloadable: ClassVar[bool] = False  # approved content leaves by its requester's download
    acted_on: ClassVar[bool] = False  # the production zone acts on it once approved
    runs: ClassVar[bool] = False  # keeps a run (inputs, outputs) that other requests derive from
    from_job: ClassVar[bool] = False  # may derive from a job's output (verified by lineage)
    model_file: ClassVar[bool] = False  # its content is a model file: reviewers read its summary
    fails_frozen: ClassVar[bool] = False  # approved but frozen (tenant suspended): fails, not waits

    def checks(
        self, s: Session, request: Request, content: bytes, checking: Checking
    ) -> tuple[list[Finding], int]:
        """The findings of every check of this kind on the frozen ``content``, and its rows."""
        raise NotImplementedError

    def auto_approval(self, request: Request, production: ProductionRules) -> str | None:
        """The policy under which ``request`` is approved when every check passed, if any."""
        return None

    def after_checks(self, db: Database, request_id: int, checking: Checking) -> None:
        """Work once the review opened, outside any session (a privacy computation is proposed
        to its party here)."""

    def on_approved(self, s: Session, request: Request, zone: Zone) -> str | Later | None:
        """Act on the approved ``request``: its new status, work to do once ``s`` is closed
        (returning the status), or ``None`` when there is nothing to do."""
        return None

    def console(
        self, s: Session, request: Request, content: bytes, store: Path, view: dict
    ) -> None:
        """Fill ``view`` (``preview``, ``files``, ``job``, ``model``, ``run``) for a reviewer."""

    def sdk_view(self, request: Request) -> dict[str, Any]:
        """What the SDK's view of ``request`` holds beyond the fields every request has."""
        return {}

    def release_held(
        self, s: Session, request: Request, reviewer: str, reason: str, store: Path
    ) -> None:
        """A reviewer releases what the release checks held back of ``request`` (a job's
        flagged log lines and metrics, a computation's result); audited by the kind."""
        from hub.refusals import Conflict

        raise Conflict(Msg("该申请没有暂扣的内容", "nothing of this request is withheld"),
                       "nothing_held")  # fmt: skip

    def lineage(self, s: Session, request: Request) -> dict[str, Any]:
        """What the lineage of ``request`` links beyond its decisions (a party's approval)."""
        return {}


class UnknownKind(KeyError):
    """Raised by :func:`get` for a name no kind is registered under."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


KINDS: dict[str, RequestKind] = {}
_loaded = False
_loading = threading.RLock()  # a kind module may ask for the kinds while imported


def register(cls: type[RequestKind]) -> type[RequestKind]:
    """Register the decorated class as the kind called ``cls.name``."""
    if not cls.name:
        raise ValueError(f"request kind {cls.__name__} has no name")
    if cls.title is None:
        raise ValueError(f"request kind {cls.name!r} has no title")
    if cls.name in KINDS:
        raise ValueError(f"request kind {cls.name!r} is already registered")
    KINDS[cls.name] = cls()
    return cls


def _load() -> None:
    """Import the built-in kinds once. Threads of a service ask at once (the production zone's
    poll and its proposals): each waits until every kind is registered, never sees a part."""
    global _loaded
    if _loaded:
        return
    with _loading:
        if not _loaded:
            for module in BUILTIN:
                importlib.import_module(f"hub.kinds.{module}")
            _loaded = True


def get(name: str) -> RequestKind:
    """The kind called ``name``; an unknown name raises :class:`UnknownKind`."""
    _load()
    kind = KINDS.get(name)
    if kind is None:
        raise UnknownKind(f"unknown request kind {name!r}; known: {', '.join(sorted(KINDS))}")
    return kind


def names() -> tuple[str, ...]:
    """Every registered kind's name, sorted."""
    _load()
    return tuple(sorted(KINDS))


def where(has: Callable[[RequestKind], bool]) -> tuple[str, ...]:
    """The names of the kinds for which ``has`` is true (``where(lambda k: k.acted_on)``)."""
    return tuple(n for n in names() if has(KINDS[n]))
