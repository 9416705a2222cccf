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
}


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
        username = (username or "").strip().lower()[:64]
        now = self.clock()
        attempt, failures = self._claim_attempt(username, now - self.window, now)
        if attempt is None:
            return self._refuse(username, "locked", ip, via="password")
        with self.db.session() as s:
            staff = admission.load_staff(s, username)
            stored_hash = staff.password_hash if staff else None
            secret, last_step = (staff.totp_secret, staff.totp_last_step) if staff else (None, None)
        # Slow hashing happens outside any transaction.
        code = None
        if not credentials.verify_password(stored_hash, password or ""):
            code = "bad_password"
        elif not (otp or "").strip():
            code = "otp_missing"
        else:
            step = credentials.totp_step(secret, otp, last_step=last_step)
            if step is None:
                code = "otp_wrong"
        if code:
            return self._fail(username, code, ip, failures)
        return self._admit_login(username, step, ip, attempt)

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

    def _fail(self, username: str, code: str, ip: str, count: int):
        """Audit a failed attempt (already counted by :meth:`_claim_attempt`)."""
        with self.db.session() as s:
            staff = admission.load_staff(s, username)
            events = [_login_event(username, staff, code, ip, "password", failures=count)]
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

    def _admit_login(self, username: str, step: int, ip: str, attempt: int) -> dict:
        with self.db.session() as s:
            staff = admission.load_staff(s, username)
            # Compare-and-set the TOTP step: a replay, or a concurrent login with the same code, loses.
            claimed = s.execute(
                update(Staff)
                .where(
                    Staff.id == staff.id,
                    Staff.totp_last_step.is_(None) | (Staff.totp_last_step < step),
                )
                .values(totp_last_step=step)
            ).rowcount
            model = None
            if claimed != 1:
                code = "otp_wrong"
            else:
                decision = admission.admit(staff, date.today())
                code = decision.code
                if decision.allowed:
                    s.execute(delete(LoginFailure).where(LoginFailure.username == username))
                    model = {"name": username, "groups": groups_of(staff)}
                else:  # the credentials were right: refused by admission, not a failed guess
                    s.execute(delete(LoginFailure).where(LoginFailure.id == attempt))
            audit.append_many(s, [_login_event(username, staff, code, ip, "password")])
        if model is None:
            raise Denied(code)
        return model

    # --- identity provider (OIDC) -----------------------------------------------------------------
    def login_federated(self, username: str, *, ip: str = "", subject: str = "") -> dict:
        """Admission for a user the unified identity provider has already authenticated."""
        username = (username or "").strip().lower()[:64]
        with self.db.session() as s:
            staff = admission.load_staff(s, username)
            decision = admission.admit(staff, date.today())
            audit.append_many(
                s, [_login_event(username, staff, decision.code, ip, "oidc", subject=subject)]
            )
            model = {"name": username, "groups": groups_of(staff)} if decision.allowed else None
        if model is None:
            raise Denied(decision.code)
        return model

    # --- re-checks ------------------------------------------------------------------------------
    def refresh(self, username: str) -> dict | None:
        """Re-run admission for a logged-in user: fresh groups, or ``None`` to force a new login."""
        with self.db.session() as s:
            staff = admission.load_staff(s, username)
            decision = admission.admit(staff, date.today())
            if decision.allowed:
                return {"name": username, "groups": groups_of(staff)}
            audit.append(
                s,
                "session.refresh",
                actor=username,
                tenant=tenant_group(staff),
                object=username,
                outcome="denied",
                reason=str(decision.reason),
                details={"code": decision.code},
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
