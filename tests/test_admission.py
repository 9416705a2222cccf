"""Admission rules as a table: situation, expected allow/deny and the reason code."""

from datetime import date, timedelta

import pytest

from hub.admission import REASONS, admit
from hub.db.models import (
    Agreement,
    AgreementStatus,
    Qualification,
    Role,
    Staff,
    Tenant,
    TenantStatus,
    TrainingRecord,
)

TODAY = date(2026, 11, 28)


def make_staff(
    *,
    role=Role.PROCESSOR,
    active=True,
    verified=True,
    training=((True, 30),),
    tenant_status=TenantStatus.ACTIVE,
    qualification=Qualification.QUALIFIED,
    agreements=((AgreementStatus.ACTIVE, -100, 900),),
    with_tenant=True,
) -> Staff:
    """A staff member; ``training`` is (passed, days until expiry), ``agreements`` (status, start, end) in days from today."""
    tenant = None
    if with_tenant and role == Role.PROCESSOR:
        tenant = Tenant(
            name="T", uscc="91330106MA2H0A1B2T", status=tenant_status, qualification=qualification
        )
        tenant.agreements = [
            Agreement(
                id=i,
                status=st,
                start=TODAY + timedelta(days=a),
                end=TODAY + timedelta(days=b),
                signed_on=TODAY,
            )
            for i, (st, a, b) in enumerate(agreements, 1)
        ]
    staff = Staff(
        username="u", role=role, active=active, real_name_verified=verified, tenant=tenant
    )
    staff.training = [
        TrainingRecord(
            course="c",
            score=90 if ok else 50,
            pass_mark=80,
            passed=ok,
            valid_until=TODAY + timedelta(days=d),
        )
        for ok, d in training
    ]
    return staff


A = AgreementStatus
CASES = [
    ("admitted processor", {}, "ok"),
    ("agreement ends today is still in force", {"agreements": ((A.ACTIVE, -1000, 0),)}, "ok"),
    ("agreement starts today", {"agreements": ((A.ACTIVE, 0, 1000),)}, "ok"),
    ("reviewer needs no tenant", {"role": Role.REVIEWER}, "ok"),
    ("auditor needs no tenant", {"role": Role.AUDITOR}, "ok"),
    ("disabled account", {"active": False}, "inactive"),
    ("not real-name verified", {"verified": False}, "not_verified"),
    ("never trained", {"training": ()}, "training"),
    ("training failed", {"training": ((False, 300),)}, "training"),
    ("training expired yesterday", {"training": ((True, -1),)}, "training"),
    ("an old pass expired, a new one valid", {"training": ((True, -10), (True, 100))}, "ok"),
    ("untrained reviewer", {"role": Role.REVIEWER, "training": ()}, "training"),
    ("processor without tenant", {"with_tenant": False}, "no_tenant"),
    ("tenant suspended", {"tenant_status": TenantStatus.SUSPENDED}, "tenant_suspended"),
    ("tenant revoked", {"tenant_status": TenantStatus.REVOKED}, "tenant_revoked"),
    ("tenant not qualified", {"qualification": Qualification.PENDING}, "tenant_unqualified"),
    ("no agreement", {"agreements": ()}, "agreement_missing"),
    ("agreement expired yesterday", {"agreements": ((A.ACTIVE, -1096, -1),)}, "agreement_expired"),
    ("agreement marked expired", {"agreements": ((A.EXPIRED, -1096, -1),)}, "agreement_expired"),
    ("agreement not started", {"agreements": ((A.ACTIVE, 10, 1000),)}, "agreement_not_started"),
    ("agreement suspended", {"agreements": ((A.SUSPENDED, -10, 1000),)}, "tenant_suspended"),
    ("agreement revoked", {"agreements": ((A.REVOKED, -10, 1000),)}, "tenant_revoked"),
    (
        "agreement terminated early",
        {"agreements": ((A.TERMINATED, -10, 1000),)},
        "agreement_terminated",
    ),
    ("expired then renewed", {"agreements": ((A.ACTIVE, -1100, -5), (A.ACTIVE, -4, 1000))}, "ok"),
]


@pytest.mark.parametrize("case, situation, expected", CASES, ids=[c[0] for c in CASES])
def test_admission_table(case, situation, expected):
    decision = admit(make_staff(**situation), TODAY)
    assert decision.code == expected
    assert decision.allowed is (expected == "ok")


def test_when_user_is_unknown_then_the_reason_does_not_reveal_it():
    decision = admit(None, TODAY)
    assert not decision.allowed
    assert str(decision.reason) == str(REASONS["unknown"])


def test_every_denial_reason_is_bilingual_and_free_of_internals():
    for code, msg in REASONS.items():
        assert msg.zh and msg.en, code
        assert not any(
            word in msg.en.lower() for word in ("sql", "traceback", "exception", "/var", "none")
        )
