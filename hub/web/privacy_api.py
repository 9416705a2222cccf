"""The SDK's privacy-computing API: the tenant's parties and computations with them.

A computation is a request of the ``privacy`` kind (:mod:`hub.kinds.privacy`): created here with
its spec frozen as its content, checked, proposed to the party's node, reviewed, run by the
production zone with the party's node, and its result released only after the export checks.
While the nodes compute, its view carries the run's progress (phase and fraction).
"""

from __future__ import annotations

from sqlalchemy import select

from hub import kinds
from hub.access import caller as callers
from hub.db.models import Party, Request
from hub.i18n import Msg
from hub.kinds.privacy import validate_params
from hub.privacy import runs
from hub.privacy.node import progress_of
from hub.refusals import BadRequest, NotFound
from hub.review import lifecycle
from hub.web import api_models as m
from hub.web.api_routes import Operation, Route
from hub.web.requests_api import LINKS, REQUEST_ID, RequestHandler, request_view
from privacy.spec import Computation, SpecError


def party_view(p: Party) -> dict:
    """What a tenant sees of its party: never its address or certificate, only the fingerprint."""
    return {"id": p.id, "name": p.name, "status": p.status.value, "fingerprint": p.fingerprint,
            "tables": p.declared_schema or {}}  # fmt: skip


def computation_view(r: Request, store) -> dict:
    view = request_view(r) | kinds.get("privacy").sdk_view(r)
    if r.status == lifecycle.RUNNING:
        view["progress"] = progress_of(runs.folder(store, r.id) / "progress.jsonl")
    return view


def _party(s, caller, party_id: str) -> Party:
    party = s.get(Party, party_id)
    if party is None or party.tenant_id != caller.tenant_id:  # another's: as if there were none
        raise NotFound(
            Msg(f"您的单位没有参与方 {party_id}", f"your company has no party {party_id}")
        )
    return party


def _table(party: Party, asked: str | None) -> str:
    if asked:
        return asked
    tables = sorted(party.declared_schema or {})
    if len(tables) == 1:
        return tables[0]
    raise BadRequest(
        Msg("请指明参与方的数据表（party_table）", "name the party's table (party_table)"),
        "party_table",
    )


class PartiesHandler(RequestHandler):
    api = {"get": Operation("The caller's company's parties and their declared tables", m.Parties)}

    async def get(self) -> None:
        def read(s, caller) -> dict:
            found = s.scalars(
                select(Party).where(Party.tenant_id == caller.tenant_id).order_by(Party.created_at)
            )
            return {"parties": [party_view(p) for p in found]}

        await self.answer("gateway.parties", "parties", read)


class ComputationsHandler(RequestHandler):
    """POST a computation with a party: checked, proposed to the party, reviewed, run."""

    api = {
        "post": Operation(
            "Request a privacy computation (PSI, joint statistics, vertical training) with a party",
            m.PrivacyRequest,
            status=201,
            query=m.PrivacyQuery,
            body=m.PrivacyComputation,
            refusals=(BadRequest, NotFound),
            links=LINKS,
        )
    }

    async def post(self) -> None:
        asked: m.PrivacyComputation = self.spec
        purpose = self.get_query_argument("purpose", "")
        name = self.get_query_argument("name", "") or f"{asked.kind} · {asked.dataset}"
        scenario = self.get_query_argument("scenario", "").strip() or None

        def create(s, caller) -> dict:
            found = callers.scenario(s, caller, scenario, asked.dataset)
            party = _party(s, caller, asked.party)
            request = lifecycle.create(
                s, kind="privacy", requester=caller.username, tenant_id=caller.tenant_id,
                scenario_id=found.id, purpose=purpose, name=name,
                meta={"party": party.id, "computation": asked.kind, "dataset": asked.dataset},
                policy=self.settings["rules"][0],
            )  # fmt: skip
            try:
                validate_params(asked.kind, asked.params)
                spec = Computation(
                    request_id=request.id, kind=asked.kind, party=party.id, tenant=party.tenant.name,
                    public_dataset=asked.dataset, public_key=asked.key,
                    public_columns=tuple(asked.public_columns),
                    party_table=_table(party, asked.party_table),
                    party_key=asked.party_key or asked.key,
                    party_columns=tuple(asked.party_columns), params=dict(asked.params),
                )  # fmt: skip
            except SpecError as e:
                zh, _, en = str(e).partition(" / ")
                raise BadRequest(Msg(zh, en or zh), "computation") from None
            except (TypeError, ValueError):
                raise BadRequest(
                    Msg("计算描述有误", "the computation is malformed"), "computation"
                ) from None
            lifecycle.submit(s, request, spec.canonical(), self.store, caller.username, ".json")
            return computation_view(request, self.store)

        view = await self.audited("gateway.privacy", asked.party, create, kind=asked.kind)
        self.set_status(201)
        self.finish(view)
        self.run_checks(view["id"])


class OneComputationHandler(RequestHandler):
    api = {
        "get": Operation(
            "A computation: its review, the party's approval, progress and released result",
            m.PrivacyRequest,
            refusals=(NotFound,),
        )
    }

    async def get(self, request_id: str) -> None:
        def read(s, caller) -> dict:
            request = self.own(s, caller, request_id)
            if request.kind != "privacy":
                raise NotFound(
                    Msg(f"#{request_id} 不是隐私计算", f"#{request_id} is not a computation")
                )
            return computation_view(request, self.store)

        await self.answer("gateway.privacy_status", f"request:{request_id}", read)


def routes() -> list[Route]:
    v1 = "/api/v1/privacy"
    return [
        Route(f"{v1}/parties", PartiesHandler),
        Route(f"{v1}/computations", ComputationsHandler),
        Route(
            f"{v1}/computations/{{request_id}}", OneComputationHandler, {"request_id": REQUEST_ID}
        ),
    ]
