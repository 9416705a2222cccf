"""SQLAlchemy models of the platform database.

The platform DB is separate from JupyterHub's own database: it holds the programme's records
(tenants, agreements, staff, training, scenarios, catalog, data lists) and the audit trail.
Schema changes go through Alembic migrations in ``hub/migrations``.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # Store the readable value ("public-governance"), not the Python member name.
    return Enum(
        cls, name=name, values_callable=lambda e: [m.value for m in e], native_enum=False, length=32
    )


class Role(enum.StrEnum):
    PROCESSOR = "processor"
    REVIEWER = "reviewer"
    ADMIN = "admin"
    AUDITOR = "auditor"
    PROVIDER = "provider"


class TenantStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


class Qualification(enum.StrEnum):
    PENDING = "pending"
    QUALIFIED = "qualified"
    REJECTED = "rejected"


class AgreementStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    TERMINATED = "terminated"
    EXPIRED = "expired"


class Category(enum.StrEnum):
    PUBLIC_GOVERNANCE = "public-governance"
    INDUSTRY = "industry"


class ScenarioStatus(enum.StrEnum):
    FILED = "filed"
    APPROVED = "approved"
    REJECTED = "rejected"
    REVOKED = "revoked"


class Decision(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    REVOKED = "revoked"


class PartyStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


class Department(Base):
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Tenant(Base):
    """A processor company (加工使用主体) licensed under the programme."""

    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    uscc: Mapped[str] = mapped_column(String(18), unique=True)
    qualification: Mapped[Qualification] = mapped_column(
        _enum(Qualification, "qualification"), default=Qualification.QUALIFIED
    )
    status: Mapped[TenantStatus] = mapped_column(
        _enum(TenantStatus, "tenant_status"), default=TenantStatus.ACTIVE
    )
    status_reason: Mapped[str | None] = mapped_column(Text)
    status_by: Mapped[str | None] = mapped_column(String(64))
    status_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The most the tenant may be charged in a month, in fen (0.01 CNY); None: no cap.
    monthly_budget_fen: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    agreements: Mapped[list[Agreement]] = relationship(
        back_populates="tenant", order_by="Agreement.start"
    )

    @property
    def group(self) -> str:
        """The JupyterHub group of this tenant's staff."""
        return f"tenant-{self.uscc.lower()}"


class Agreement(Base):
    """An authorization agreement (授权运营协议): 3 years from its start."""

    __tablename__ = "agreements"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    signed_on: Mapped[date] = mapped_column(Date)
    start: Mapped[date] = mapped_column(Date)
    end: Mapped[date] = mapped_column(Date)
    status: Mapped[AgreementStatus] = mapped_column(
        _enum(AgreementStatus, "agreement_status"), default=AgreementStatus.ACTIVE
    )
    status_reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    renewed_from_id: Mapped[int | None] = mapped_column(ForeignKey("agreements.id"))

    tenant: Mapped[Tenant] = relationship(back_populates="agreements")


class Staff(Base):
    """A person with a login. The resident ID is kept only as a keyed hash plus its last 4."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(32), unique=True)
    real_name: Mapped[str] = mapped_column(String(50))
    id_hash: Mapped[str] = mapped_column(String(64), unique=True)
    id_last4: Mapped[str] = mapped_column(String(4))
    mobile: Mapped[str] = mapped_column(String(11))
    real_name_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    verified_by: Mapped[str | None] = mapped_column(String(64))
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    role: Mapped[Role] = mapped_column(_enum(Role, "staff_role"))
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    totp_secret: Mapped[str] = mapped_column(String(64))
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    # The unified identity provider's ``sub`` for this person (OIDC login); unique, set once.
    oidc_subject: Mapped[str | None] = mapped_column(String(255), unique=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    tenant: Mapped[Tenant | None] = relationship()
    department: Mapped[Department | None] = relationship()
    training: Mapped[list[TrainingRecord]] = relationship(
        back_populates="staff", order_by="TrainingRecord.taken_at"
    )


class TrainingRecord(Base):
    """An exam result of the programme's training (培训考核)."""

    __tablename__ = "training_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    course: Mapped[str] = mapped_column(String(100))
    score: Mapped[int] = mapped_column(Integer)
    pass_mark: Mapped[int] = mapped_column(Integer)
    passed: Mapped[bool] = mapped_column(Boolean)
    taken_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    valid_until: Mapped[date] = mapped_column(Date)

    staff: Mapped[Staff] = relationship(back_populates="training")


class Scenario(Base):
    """An application scenario (应用场景) filed by a tenant."""

    __tablename__ = "scenarios"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    field: Mapped[str] = mapped_column(String(50))
    purpose: Mapped[str] = mapped_column(Text)
    category: Mapped[Category] = mapped_column(_enum(Category, "scenario_category"))
    status: Mapped[ScenarioStatus] = mapped_column(
        _enum(ScenarioStatus, "scenario_status"), default=ScenarioStatus.FILED
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    tenant: Mapped[Tenant] = relationship()


class Dataset(Base):
    """A catalog dataset held by a data-provider department, stored raw in the domain store."""

    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    schema: Mapped[list] = mapped_column(JSON)
    level: Mapped[int] = mapped_column(Integer)
    prohibited: Mapped[bool] = mapped_column(Boolean, default=False)
    path: Mapped[str] = mapped_column(String(300))
    rows: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    department: Mapped[Department] = relationship()


class DataListItem(Base):
    """One line of a scenario's data list: a dataset and columns, decided by the owning department."""

    __tablename__ = "data_list_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    scenario_id: Mapped[int] = mapped_column(ForeignKey("scenarios.id"), index=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"))
    columns: Mapped[list] = mapped_column(JSON)
    decision: Mapped[Decision] = mapped_column(
        _enum(Decision, "list_decision"), default=Decision.PENDING
    )
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str | None] = mapped_column(Text)

    scenario: Mapped[Scenario] = relationship()
    dataset: Mapped[Dataset] = relationship()


class LoginFailure(Base):
    """A failed login, kept to enforce the lockout window."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class AuditEvent(Base):
    """One event of the append-only, hash-chained audit trail. See :mod:`hub.audit`."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    ts: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64), default="")
    tenant: Mapped[str] = mapped_column(String(64), default="", index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    object: Mapped[str] = mapped_column(String(200), default="")
    outcome: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[str] = mapped_column(Text, default="{}")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class MeterEvent(Base):
    """One metered use of the platform (masked rows served, job seconds, product queries, …),
    the raw material of fee statements. Written in the same transaction as its audit event."""

    __tablename__ = "meter_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    scenario_id: Mapped[int | None] = mapped_column(ForeignKey("scenarios.id"))
    actor: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    quantity: Mapped[int] = mapped_column(Integer)
    details: Mapped[dict] = mapped_column(JSON, default=dict)


class Request(Base):
    """A request under platform review, of one of the kinds in :mod:`hub.kinds` (an export, a
    job, a model to publish, an import, …).

    Its content is frozen at submit: the file in the domain store and its SHA-256, to which
    every approval binds. See :mod:`hub.review.lifecycle` for the states and who moves them.
    """

    __tablename__ = "requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    scenario_id: Mapped[int] = mapped_column(ForeignKey("scenarios.id"))
    requester: Mapped[str] = mapped_column(String(64), index=True)
    purpose: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)
    status_reason: Mapped[str | None] = mapped_column(Text)
    level: Mapped[int] = mapped_column(Integer)
    approvals_needed: Mapped[int] = mapped_column(Integer, default=1)
    name: Mapped[str] = mapped_column(String(200))
    content_path: Mapped[str | None] = mapped_column(String(300))
    content_sha256: Mapped[str | None] = mapped_column(String(64))
    content_bytes: Mapped[int] = mapped_column(Integer, default=0)
    rows: Mapped[int] = mapped_column(Integer, default=0)
    meta: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    tenant: Mapped[Tenant] = relationship()
    scenario: Mapped[Scenario] = relationship()
    checks: Mapped[list[RequestCheck]] = relationship(
        back_populates="request", order_by="RequestCheck.id"
    )
    decisions: Mapped[list[RequestDecision]] = relationship(
        back_populates="request", order_by="RequestDecision.id"
    )


class RequestCheck(Base):
    """One automated check's finding on a request's frozen content."""

    __tablename__ = "request_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    name: Mapped[str] = mapped_column(String(32))
    verdict: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(Text)
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    request: Mapped[Request] = relationship(back_populates="checks")


class RequestDecision(Base):
    """A reviewer's decision, bound to the content hash it was taken on."""

    __tablename__ = "request_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    reviewer: Mapped[str] = mapped_column(String(64))
    decision: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    override: Mapped[bool] = mapped_column(Boolean, default=False)
    content_sha256: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    request: Mapped[Request] = relationship(back_populates="decisions")


class Product(Base):
    """A published model answering scoring or verification queries inside the domain.

    Bound to the scenario its model was approved for; paused while its tenant is not admitted.
    """

    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    scenario_id: Mapped[int] = mapped_column(ForeignKey("scenarios.id"))
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"))  # the model request
    model_path: Mapped[str] = mapped_column(String(300))
    model_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    tenant: Mapped[Tenant] = relationship()
    scenario: Mapped[Scenario] = relationship()
    request: Mapped[Request] = relationship()


class ProductKey(Base):
    """A consumer's key to one product; only its SHA-256 is kept (the key is shown once)."""

    __tablename__ = "product_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    key_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    consumer: Mapped[str] = mapped_column(String(200))
    issued_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Revoked from this instant (a rotated key's grace ends in the future).
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The key's own limits; None: the production rules' defaults.
    calls_per_minute: Mapped[int | None] = mapped_column(Integer)
    records_per_day: Mapped[int | None] = mapped_column(Integer)
    rotated_from: Mapped[int | None] = mapped_column(Integer)  # the key this one replaced
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    stop_reason: Mapped[str | None] = mapped_column(String(32))  # e.g. "sweep"

    product: Mapped[Product] = relationship()


class Notice(Base):
    """信息发布: a call for processors in one field, with its application conditions."""

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    field: Mapped[str] = mapped_column(String(50))
    title: Mapped[str] = mapped_column(String(200))
    conditions: Mapped[list] = mapped_column(JSON)
    closes_on: Mapped[date] = mapped_column(Date)
    published_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Application(Base):
    """A company's application to a notice, through qualification review, expert review, the
    coordination group's decision and signing (see :mod:`hub.ops.onboarding`)."""

    __tablename__ = "applications"

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id"), index=True)
    company: Mapped[str] = mapped_column(String(200))
    uscc: Mapped[str] = mapped_column(String(18))
    security_officer: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(16))
    checklist: Mapped[dict] = mapped_column(JSON, default=dict)
    scores: Mapped[list] = mapped_column(JSON, default=list)
    decision_reason: Mapped[str | None] = mapped_column(Text)
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    notice: Mapped[Notice] = relationship()


class Party(Base):
    """An outside organisation (a bank, an insurer) whose own node computes with the platform's
    node for one tenant (see :mod:`hub.ops.parties`). Only its certificate is kept here; its
    private key left with the bundle ``shuyu party add`` printed."""

    __tablename__ = "parties"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[str] = mapped_column(String(24), primary_key=True)  # p-<hex>
    name: Mapped[str] = mapped_column(String(200))
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    address: Mapped[str] = mapped_column(String(300))  # HOST:PORT of the party's node
    status: Mapped[PartyStatus] = mapped_column(
        _enum(PartyStatus, "party_status"), default=PartyStatus.ACTIVE
    )
    status_reason: Mapped[str | None] = mapped_column(Text)
    status_by: Mapped[str | None] = mapped_column(String(64))
    status_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cert_pem: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    # What the party's node declared of its tables ({name: {"columns": {column: dtype}}}).
    declared_schema: Mapped[dict] = mapped_column(JSON, default=dict)
    schema_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    tenant: Mapped[Tenant] = relationship()
