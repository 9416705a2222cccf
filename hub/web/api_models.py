"""What the gateway's operations take and answer, as pydantic models: the handlers' inputs are
validated against them and the OpenAPI document shows their JSON schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hub import kinds
from sdk.statuses import RequestStatus

QUOTED = ("job", "export", "model", "import")  # the kinds a quote prices


class Answer(BaseModel):
    """An answer: fields may be added later, so clients ignore the ones they do not know."""

    model_config = ConfigDict(extra="allow")


class Inputs(BaseModel):
    """Query parameters or a JSON body: unknown fields are ignored, as the handlers always did."""

    model_config = ConfigDict(extra="ignore")


# ---- errors ---------------------------------------------------------------------------------


class RefusalBody(BaseModel):
    """Every answer that is not a success: a stable code and the message in both languages."""

    model_config = ConfigDict(title="Refusal")
    error: str = Field(description="中文 / English")
    code: str = Field(
        description="Stable reason: not_approved, other_tenant, not_found, tenant_suspended, "
        "agreement_expired, unauthorized, method_not_allowed, …"
    )
    status: int
    message_zh: str
    message_en: str


# ---- inputs ---------------------------------------------------------------------------------

# Tornado drops these control characters from query arguments and strips the ends; the patterns
# hold what reaches the handler, so a value the schema allows is one the handler accepts.
DROPPED = r"\x00-\x08\x0e-\x1f"
# What str.strip() strips besides those, spelt out: regex engines disagree on what \s holds.
BLANK = r" \t\n\x0b\x0c\r\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
SHOWN = rf"[^{BLANK}{DROPPED}]"
PRODUCT_NAME = "^[a-z][a-z0-9_-]{2,63}$"
ScenarioRef = Annotated[
    str | None,
    Field(
        default=None,
        max_length=200,
        description="A scenario id or name of the caller's tenant; by default the only one "
        "that fits.",
    ),
]
Purpose = Annotated[
    str,
    Field(
        max_length=2000,
        pattern=rf"^[{BLANK}]*{SHOWN}[^{DROPPED}]{{2,}}{SHOWN}[{BLANK}]*$",
        description="What the request is for (4–2000 characters)",
    ),
]
Name = Annotated[str | None, Field(default=None, max_length=200, description="A name")]


class ScenarioQuery(Inputs):
    scenario: ScenarioRef = None


class SampleQuery(ScenarioQuery):
    format: Literal["arrow", "parquet"] = "arrow"


class ExportQuery(ScenarioQuery):
    purpose: Purpose
    name: Name = None


class ModelsQuery(Inputs):
    purpose: Purpose


class JobExportQuery(Inputs):
    purpose: Purpose
    output: Annotated[
        str,
        Field(max_length=200, pattern=rf"^[{BLANK}]*{SHOWN}", description="The output file"),
    ]
    name: Name = None


class ImportQuery(ExportQuery):
    format: Literal["csv", "parquet"] = "csv"


class QuoteQuery(ScenarioQuery):
    kind: Literal[QUOTED]  # type: ignore[valid-type]
    cpus: Annotated[float | None, Field(default=None, gt=0, le=1024)] = None
    seconds: Annotated[int | None, Field(default=None, gt=0, le=10**7)] = None


class StatementQuery(Inputs):
    format: Literal["csv", "html"] = "csv"


class MetaHeader(Inputs):
    """Statistics or a job's description, as JSON in a header (the body is the file)."""

    meta: Annotated[
        str,
        Field(
            default="{}",
            alias="X-Shuyu-Meta",
            max_length=1 << 20,
            description="JSON: a job's entrypoint, datasets, params, resources; an export's "
            "table statistics",
        ),
    ] = "{}"


class ProductKeyHeader(Inputs):
    key: Annotated[str, Field(alias="X-Shuyu-Product-Key", max_length=200)]


class PublishModel(Inputs):
    job: Annotated[int, Field(ge=0, le=2**31 - 1)]
    product: Annotated[str, Field(pattern=PRODUCT_NAME)]
    card: dict[str, Any]
    artifact: Annotated[str | None, Field(default=None, max_length=200)] = None
    dataset: Annotated[str | None, Field(default=None, max_length=64)] = None
    cell: Any = None


class RegisterProduct(Inputs):
    """A product's registration record (公共数据资源登记); the product is the path's."""

    category: Literal["scoring", "verification"]
    price: Annotated[float, Field(ge=0)]
    unit: Annotated[
        str, Field(max_length=16, description="call, 10k_records or month (次, 万条, 月)")
    ]
    processing: Annotated[str, Field(max_length=4000, description="The processing method")]
    self_assessment: dict[str, Annotated[str, Field(max_length=4000)]]
    title: Annotated[str | None, Field(default=None, max_length=100)] = None
    model_card: Any = None


class KeyRequest(Inputs):
    consumer: Annotated[str, Field(default="", max_length=200)] = ""
    expires_at: Annotated[
        datetime | None, Field(default=None, description="When the key stops (ISO 8601)")
    ] = None
    calls_per_minute: Annotated[int | None, Field(default=None, ge=1, le=10_000_000)] = None
    records_per_day: Annotated[int | None, Field(default=None, ge=1, le=10_000_000)] = None


class KeyRotate(Inputs):
    grace_seconds: Annotated[
        int, Field(default=0, ge=0, le=86_400, description="How long the old key stays valid")
    ] = 0


class MonthQuery(Inputs):
    # A real month of this century (ASCII digits only): anything else is refused by the schema
    # itself, so every month the schema admits is one the statements can count.
    month: Annotated[
        str, Field(pattern=r"^20[0-9]{2}-(0[1-9]|1[0-2])$", description="YYYY-MM, UTC")
    ]


class ProductQuery(Inputs):
    records: list[dict[str, Any]] | None = None
    keys: list[str] | None = None


ColumnName = Annotated[str, Field(min_length=1, max_length=128)]


class PrivacyQuery(ScenarioQuery):
    purpose: Purpose
    name: Name = None


class PrivacyComputation(Inputs):
    """A computation with a party's node: the public side (a dataset of the scenario, its key
    and columns) and the party's (its table, key and columns); ``params`` by kind, as
    ``privacy.spec.Computation`` reads them."""

    kind: Literal["psi", "stats", "train"]
    party: Annotated[str, Field(pattern=r"^p-[0-9a-f]{4,20}$")]
    dataset: Annotated[str, Field(min_length=1, max_length=64)]
    key: ColumnName
    public_columns: Annotated[list[ColumnName], Field(max_length=200)] = []
    party_table: Annotated[str | None, Field(default=None, max_length=128)] = None
    party_key: Annotated[str | None, Field(default=None, max_length=128)] = None
    party_columns: Annotated[list[ColumnName], Field(max_length=200)] = []
    params: dict[str, Any] = {}


class ExecutionRecord(Inputs):
    """A cell execution or a file save, signed by the workspace server. Values are recorded as
    their text (a contents model's ``format`` may be null), so any JSON value is taken."""

    server: Any = ""
    kind: Any = ""
    code: Any = ""
    kernel_id: Any = ""
    msg_id: Any = ""
    session: Any = ""
    path: Any = ""
    type: Any = ""
    format: Any = ""
    content: Any = ""


# ---- answers --------------------------------------------------------------------------------


class Scenario(Answer):
    id: int
    name: str
    field: str
    purpose: str
    category: Literal["public-governance", "industry"]
    status: Literal["filed", "approved", "rejected", "revoked"]


class Me(Answer):
    username: str
    tenant: str
    scenarios: list[Scenario]
    agreement_reminder: dict[str, Any] | None


class Scenarios(Answer):
    scenarios: list[Scenario]


class Masking(Answer):
    operator: str
    params: dict[str, Any]


class Column(Answer):
    name: str
    title: str
    type: str
    approved: bool
    prohibited: bool
    quasi_identifier: bool
    masking: Masking | None


class Dataset(Answer):
    name: str
    title: str
    department: str
    level: Annotated[int, Field(ge=1, le=4)]
    prohibited: bool
    approvals: list[dict[str, Any]]
    columns: list[Column]


class Datasets(Answer):
    datasets: list[Dataset]


class DataListItem(Answer):
    id: int
    scenario: str
    scenario_id: int
    dataset: str
    columns: list[str]
    decision: Literal["pending", "approved", "rejected", "revoked"]
    decided_by: str | None
    decided_at: str | None
    reason: str | None


class DataList(Answer):
    items: list[DataListItem]


class Check(Answer):
    name: str
    verdict: str
    reason: str | None
    details: Any


class ReviewDecision(Answer):
    decision: str
    reason: str | None
    override: bool | None
    at: str


class Request(Answer):
    """A request (export, job, model, import) as the lifecycle holds it."""

    id: int
    kind: Literal[kinds.names()]  # type: ignore[valid-type]
    name: str | None
    status: RequestStatus
    status_reason: str | None
    purpose: str
    scenario: str
    scenario_id: int
    level: int | None
    approvals_needed: int | None
    approvals: int
    sha256: str | None
    bytes: int | None
    rows: int | None
    quote: dict[str, Any] | None
    created_at: str
    updated_at: str
    checks: list[Check]
    decisions: list[ReviewDecision]


class Job(Request):
    entrypoint: Any = None
    datasets: Any = None
    params: Any = None
    resources: Any = None
    run: dict[str, Any] | None = None


class Progress(Answer):
    phase: str
    fraction: float | None
    at: str


class PrivacyRequest(Request):
    computation: Any = None
    party: Any = None
    party_approval: dict[str, Any] | None = None
    progress: Progress | None = None
    result: Any = None
    withheld: list[dict[str, Any]] | None = None


class Party(Answer):
    id: str
    name: str
    status: Literal["active", "suspended", "revoked"]
    fingerprint: str
    tables: dict[str, Any]


class Parties(Answer):
    parties: list[Party]


class Requests(Answer):
    requests: list[Request]


class Lineage(Answer):
    chain: list[Any]
    derived: list[Any]
    product: dict[str, Any] | None


class Quote(Answer):
    amount: str
    currency: str
    spent: str
    budget: str | None
    remaining: str | None
    category: str
    condition: str | None


class Product(Answer):
    name: str
    scenario: str
    status: str
    model_request: int | None
    sha256: str | None
    created_at: str
    keys: int


class Products(Answer):
    products: list[Product]


class IssuedKey(Answer):
    product: str
    key: str
    prefix: str
    consumer: str


class Registrations(Answer):
    product: str
    in_force: dict[str, Any] | None
    registrations: list[dict[str, Any]]


class Answers(Answer):
    answers: list[Any]


class KeyView(Answer):
    prefix: str
    consumer: str
    expires_at: str | None
    revoked_at: str | None
    stopped_at: str | None


class KeyList(Answer):
    keys: list[KeyView]


class StatementLine(Answer):
    consumer: str
    product: str
    price: str = Field(description="CNY per unit, exact decimal")
    unit: str
    calls: int
    records: int
    amount: str = Field(description="CNY, to the fen")


class ConsumerStatement(Answer):
    """Consumers' calls of a company's products in a month, priced at the registered price."""

    company: str
    month: str
    currency: str
    total: str
    lines: list[StatementLine]


class Health(Answer):
    status: Literal["ok"]


class Recorded(Answer):
    """The audit event that holds the record."""

    id: int
    hash: str


class Document(Answer):
    """This document."""
