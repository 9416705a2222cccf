"""The login gate: credentials, lockout, admission and their audit events, in one place.

Both authenticators (password + TOTP, and OIDC) and the spawn hook go through :class:`Gate`, so
the rules and what is recorded about them cannot drift apart. Methods are blocking; the
authenticators call them in a worker thread.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import delete, func, select, update

from hub import admission, audit
from hub.auth import credentials
from hub.billing import meter
from hub.billing.meter import MeterKind
from hub.db.engine import Database
from hub.db.models import AuditEvent, LoginFailure, Role, Staff
from hub.i18n import Msg, UserError

# One message for every credential failure: telling "wrong code" from "wrong password" would
# confirm a guessed password before its second factor is checked. The codes differ (the audit
# trail keeps which check failed); what a person sees does not.
CREDENTIALS_WRONG = Msg(
    "用户名、密码或动态验证码错误（已使用过的验证码不能再用）",
    "the username, password or one-time code is wrong (a code cannot be used twice)",
)
LOGIN_REASONS: dict[str, Msg] = {
    "bad_password": CREDENTIALS_WRONG,
    "otp_missing": CREDENTIALS_WRONG,
    "otp_wrong": CREDENTIALS_WRONG,
    "locked": Msg(
        "登录失败次数过多，账户已锁定，请 15 分钟后再试",
        "too many failed logins: the account is locked, try again in 15 minutes",
    ),
    "not_processor": Msg(
        "仅加工使用主体人员可以启动工作空间", "only processor staff can start a workspace"
    ),
    # The unified identity provider (OIDC): its subject (``sub``) is bound to one staff record.
    "oidc_no_subject": Msg(
        "统一身份认证未提供有效的用户标识", "the identity provider asserted no valid subject"
    ),
    "oidc_subject_mismatch": Msg(
        "该统一身份认证账户不是此平台账户绑定的账户，登录被拒绝",
        "this identity provider account is not the one bound to the platform account: login refused",
    ),
    "oidc_unbound": Msg(
        "平台账户尚未绑定统一身份认证账户，请联系管理员绑定",
        "the platform account is not bound to an identity provider account yet: ask an administrator",
    ),
}
SUBJECT_MAX = 255  # the OpenID Connect limit on ``sub``; a longer one is refused, never cut


LOCK_CLASS = 0x5359  # first key of the advisory locks serialising one username's login attempts


class Denied(UserError):
    """A refused login or spawn; ``code`` is stable (tests, audit), the message is for people."""

    def __init__(self, code: str):
        msg = LOGIN_REASONS.get(code) or admission.REASONS[code]
        super().__init__(msg)
        self.code = code


def groups_of(staff: Staff) -> list[str]:
    """JupyterHub groups: one per role, one per tenant, one per department."""
    groups = [f"role-{staff.role.value}"]
    if staff.tenant is not None:
        groups.append(staff.tenant.group)
    if staff.department_id is not None:
        groups.append(f"dept-{staff.department_id}")
    return groups


def tenant_group(staff: Staff | None) -> str:
    return staff.tenant.group if staff is not None and staff.tenant is not None else ""


class Gate:
    def __init__(
        self,
        db: Database,
        *,
        max_failures: int = 5,
        window: timedelta = timedelta(minutes=15),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.db = db
        self.max_failures = max_failures
        self.window = window
        self.clock = clock  # when attempts happen: the lockout window is measured on it

    # --- password + TOTP ------------------------------------------------------------------------
    def login(self, username: str, password: str, otp: str | None, *, ip: str = "") -> dict:
        """Check credentials, lockout and admission; return the JupyterHub auth model or raise :class:`Denied`."""
        username = _normal(username)
        now = self.clock()
        attempt, failures = self._claim_attempt(username, now - self.window, now)
        if attempt is None:
            return self._refuse(username, "locked", ip, via="password")
        with self.db.session() as s:
            staff = admission.load_staff(s, username)
            stored_hash = staff.password_hash if staff else None
        # Slow hashing happens outside any transaction.
        if not credentials.verify_password(stored_hash, password or ""):
            return self._fail(username, "bad_password", ip, failures, "password")
        step = self._totp(username, otp, ip, failures, "password")
        return self._admit_login(username, step, ip, attempt)

    def _totp(self, username: str, otp: str | None, ip: str, failures: int, via: str) -> int:
        """The time step the staff member's one-time code matches, or a failure (audited, raises)."""
        if not (otp or "").strip():
            return self._fail(username, "otp_missing", ip, failures, via)
        with self.db.session() as s:
            staff = admission.load_staff(s, username)
            secret, last_step = (staff.totp_secret, staff.totp_last_step) if staff else (None, None)
        step = credentials.totp_step(secret, otp, last_step=last_step) if secret else None
        if step is None:
            return self._fail(username, "otp_wrong", ip, failures, via)
        return step

    def _claim_attempt(
        self, username: str, since: datetime, now: datetime
    ) -> tuple[int | None, int]:
        """Count this attempt as a failure before any credential is checked.

        The attempt is recorded and the window's failures counted in one transaction that
        holds the username's lock (SQLite: the write lock of ``BEGIN IMMEDIATE``; PostgreSQL: a
        transaction-level advisory lock), so parallel attempts are counted one after another and
        at most ``max_failures`` of them are ever checked. A login that turns out right removes
        the record again. Returns ``(attempt id, failures including it)``, or ``(None, n)``
        when the account is locked (nothing recorded).
        """
        with self.db.session() as s:
            if s.get_bind().dialect.name == "postgresql":
                s.execute(select(func.pg_advisory_xact_lock(LOCK_CLASS, func.hashtext(username))))
            if self._failures(s, username, since) >= self.max_failures:
                return None, self.max_failures
            attempt = LoginFailure(username=username, at=now)
            s.add(attempt)
            s.flush()
            return attempt.id, self._failures(s, username, since)

    def _failures(self, s, username: str, since: datetime) -> int:
        return s.scalar(
            select(func.count())
            .select_from(LoginFailure)
            .where(LoginFailure.username == username, LoginFailure.at >= since)
        )

    def _fail(self, username: str, code: str, ip: str, count: int, via: str):
        """Audit a failed attempt (already counted by :meth:`_claim_attempt`)."""
        with self.db.session() as s:
            staff = admission.load_staff(s, username)
            events = [_login_event(username, staff, code, ip, via, failures=count)]
            if count == self.max_failures:
                events.append(
                    {
                        "action": "login.lockout",
                        "actor": username,
                        "tenant": tenant_group(staff),
                        "object": username,
                        "outcome": "denied",
                        "reason": str(LOGIN_REASONS["locked"]),
                        "details": {
                            "failures": count,
                            "window_minutes": self.window.seconds // 60,
                            "ip": ip,
                        },
                    }
                )
            audit.append_many(s, events)
        raise Denied(code)

    def _refuse(self, username: str, code: str, ip: str, via: str):
        with self.db.session() as s:
            staff = admission.load_staff(s, username)
            audit.append_many(s, [_login_event(username, staff, code, ip, via)])
        raise Denied(code)

    def _admit_login(
        self,
        username: str,
        step: int | None,
        ip: str,
        attempt: int | None,
        *,
        federated: tuple[str, bool] | None = None,
        via: str = "password",
    ) -> dict:
        """The last step of every login, in one transaction: the staff record (for a federated
        login, the one its ``(subject, bind_unbound)`` resolves to), the one-time code's step
        (compare-and-set), admission, the subject's first binding, the audit event."""
        details = {}
        with self.db.session() as s:
            if federated is None:
                staff, code, bind = admission.load_staff(s, username), "ok", False
            else:
                staff, code, bind = _federated_staff(s, username, *federated)
                details = {"subject": federated[0][:SUBJECT_MAX], "bound": bind}
            if code == "ok" and step is not None and staff.username != username:
                # The code was checked for ``username``: the subject now stands for another.
                code = "oidc_subject_mismatch"
            # Compare-and-set the TOTP step: a replay, or a concurrent login with the same code, loses.
            if code == "ok" and step is not None and not _claim_step(s, staff, step):
                code = "otp_wrong"
            if code == "ok":
                code = admission.admit(staff, date.today()).code
            if code == "ok" and bind and not _bind_subject(s, staff, federated[0]):
                code = "oidc_subject_mismatch"  # another login bound it first
            if attempt is not None and code == "ok":
                s.execute(delete(LoginFailure).where(LoginFailure.username == username))
            elif attempt is not None and code != "otp_wrong":
                # The credentials were right: refused by admission, not a failed guess.
                s.execute(delete(LoginFailure).where(LoginFailure.id == attempt))
            actor = staff.username if staff is not None else username
            model = {"name": actor, "groups": groups_of(staff)} if code == "ok" else None
            audit.append_many(s, [_login_event(actor, staff, code, ip, via, **details)])
        if model is None:
            raise Denied(code)
        return model

    # --- identity provider (OIDC) -----------------------------------------------------------------
    # A provider's subject is bound to one staff record. Once bound, the subject alone says who
    # logs in (the provider's username claim is not consulted: it may be renamed or reassigned),
    # and a different subject claiming that username is refused. An unbound record is bound at
    # its first complete login only when ``bind_unbound`` (policy) allows, else an administrator
    # binds it (``hub.ops.staff.bind_subject``).
    def check_federated(
        self, claimed: str, *, subject: str, bind_unbound: bool = False, ip: str = ""
    ) -> str:
        """Before the platform's own second factor: the staff username the provider's
        ``subject`` (or, if unbound, its username claim) stands for, if admission lets them in.
        A refusal is audited and raises :class:`Denied`; nothing is bound or recorded otherwise."""
        claimed = _normal(claimed)
        with self.db.session() as s:
            staff, code, _ = _federated_staff(s, claimed, subject, bind_unbound)
            if code == "ok":
                code = admission.admit(staff, date.today()).code
            if code == "ok":
                return staff.username
            actor = staff.username if staff is not None else claimed
            details = {"subject": subject[:SUBJECT_MAX]}
            audit.append_many(s, [_login_event(actor, staff, code, ip, VIA_OIDC, **details)])
        raise Denied(code)

    def login_federated(
        self,
        claimed: str,
        *,
        subject: str,
        bind_unbound: bool = False,
        otp: str | None = None,
        ip: str = "",
    ) -> dict:
        """Log in a user the unified identity provider has authenticated: subject binding and
        admission; with ``otp`` (the provider asserted no second factor), the platform's own
        one-time code first, counted toward the lockout as a password login's is."""
        claimed = _normal(claimed)
        if otp is None:
            return self._admit_login(
                claimed, None, ip, None, federated=(subject, bind_unbound), via=VIA_OIDC
            )
        now = self.clock()
        attempt, failures = self._claim_attempt(claimed, now - self.window, now)
        if attempt is None:
            return self._refuse(claimed, "locked", ip, via=VIA_OIDC_TOTP)
        step = self._totp(claimed, otp, ip, failures, VIA_OIDC_TOTP)
        return self._admit_login(
            claimed, step, ip, attempt, federated=(subject, bind_unbound), via=VIA_OIDC_TOTP
        )

    # --- re-checks ------------------------------------------------------------------------------
    def refresh(self, username: str, federated: bool = False) -> dict | None:
        """Re-run admission for a logged-in user: fresh groups, or ``None`` to force a new login.
        A ``federated`` session (the identity provider's) also ends once its record is unbound."""
        with self.db.session() as s:
            staff = admission.load_staff(s, username)
            decision = admission.admit(staff, date.today())
            code, reason = decision.code, str(decision.reason)
            if decision.allowed and federated and staff.oidc_subject is None:
                code, reason = "oidc_unbound", str(LOGIN_REASONS["oidc_unbound"])
            elif decision.allowed:
                return {"name": username, "groups": groups_of(staff)}
            audit.append(
                s,
                "session.refresh",
                actor=username,
                tenant=tenant_group(staff),
                object=username,
                outcome="denied",
                reason=reason,
                details={"code": code},
            )
            return None

    def spawn(self, username: str, server: str) -> None:
        """Admission before a server starts; audited either way, raises :class:`Denied`."""
        with self.db.session() as s:
            staff = admission.load_staff(s, username)
            decision = admission.admit(staff, date.today())
            code = decision.code
            if decision.allowed and staff.role != Role.PROCESSOR:
                code = "not_processor"
            allowed = code == "ok"
            reason = "" if allowed else str(Denied(code).msg)
            audit.append(
                s,
                "server.spawn",
                actor=username,
                tenant=tenant_group(staff),
                object=server,
                outcome="allowed" if allowed else "denied",
                reason=reason,
                details={"code": code},
            )
        if not allowed:
            raise Denied(code)

    def stopped(self, username: str, server: str, cpus: float = 0, memory_bytes: int = 0) -> None:
        """Audit the stop and meter the container time since the allowed spawn before it."""
        with self.db.session() as s:
            staff = admission.load_staff(s, username)
            audit.append(
                s, "server.stop", actor=username, tenant=tenant_group(staff), object=server
            )
            started = s.scalars(
                select(AuditEvent.ts)
                .where(AuditEvent.action == "server.spawn", AuditEvent.actor == username,
                       AuditEvent.object == server, AuditEvent.outcome == "allowed")
                .order_by(AuditEvent.id.desc())
            ).first()  # fmt: skip
            if staff is None or staff.tenant_id is None or started is None:
                return
            seconds = (datetime.now(UTC) - datetime.fromisoformat(started)).total_seconds()
            meter.record(
                s, staff.tenant_id, MeterKind.CONTAINER_SECONDS, max(1, math.ceil(seconds)),
                {"server": server, "cpus": cpus, "memory_gb": round(memory_bytes / 2**30, 3)},
                actor=username,
            )  # fmt: skip


VIA_OIDC = "oidc"  # the provider asserted a second factor
VIA_OIDC_TOTP = "oidc+totp"  # it did not: the platform's own one-time code was asked


def _normal(username: str | None) -> str:
    return (username or "").strip().lower()[:64]


def _federated_staff(
    s, claimed: str, subject: str, bind_unbound: bool
) -> tuple[Staff | None, str, bool]:
    """``(staff, code, bind)``: whom ``subject`` logs in as, ``"ok"`` or why not, and whether
    the record is still to be bound to the subject (first login, policy allowing)."""
    if not subject or len(subject) > SUBJECT_MAX:
        return admission.load_staff(s, claimed), "oidc_no_subject", False
    staff = admission.load_staff_by_subject(s, subject)
    if staff is not None:
        return staff, "ok", False
    staff = admission.load_staff(s, claimed)
    if staff is None:
        return None, "unknown", False
    if staff.oidc_subject is not None:  # bound to another provider account
        return staff, "oidc_subject_mismatch", False
    if not bind_unbound:
        return staff, "oidc_unbound", False
    return staff, "ok", True


def _claim_step(s, staff: Staff, step: int) -> bool:
    """Compare-and-set the staff member's last used TOTP step; ``False`` when it was not newer."""
    return (
        s.execute(
            update(Staff)
            .where(
                Staff.id == staff.id,
                Staff.totp_last_step.is_(None) | (Staff.totp_last_step < step),
            )
            .values(totp_last_step=step)
        ).rowcount
        == 1
    )


def _bind_subject(s, staff: Staff, subject: str) -> bool:
    """Bind ``subject`` to a record still unbound (compare-and-set: a parallel first login loses)."""
    taken = s.scalar(select(func.count()).select_from(Staff).where(Staff.oidc_subject == subject))
    if taken:
        return False
    return (
        s.execute(
            update(Staff)
            .where(Staff.id == staff.id, Staff.oidc_subject.is_(None))
            .values(oidc_subject=subject)
        ).rowcount
        == 1
    )


def _login_event(
    username: str, staff: Staff | None, code: str, ip: str, via: str, **details
) -> dict:
    allowed = code == "ok"
    reason = "" if allowed else str(Denied(code).msg)
    return {
        "action": "login",
        "actor": username,
        "tenant": tenant_group(staff),
        "object": username,
        "outcome": "allowed" if allowed else "denied",
        "reason": reason,
        "details": {"code": code, "ip": ip, "via": via, **details},
    }
