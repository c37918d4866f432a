"""The destination is found by LeiKa key and region key at the (sandbox) Routing API."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, select

from backend.cases.lifecycle import refer_or_note
from backend.handover.delivery import deliver_submission
from backend.handover.models import Handover
from backend.handover.routing import RoutingFailed, route_destination
from backend.records.models import Case
from tests.conftest import Platform
from tests.integration.casekit import context_for, own_database, processing_case, submit_cases
from tests.livesrv import free_port

SERVICE = "sondernutzung-extern"
LEIKA = "99034004000000"
KOELN = "053150000000"
ANSWERS = {"nutzung": "Umzugswagen vor dem Haus, 8 m", "beginn": "2026-05-02"}


def test_the_routing_api_answers_by_leika_and_region(platform: Platform) -> None:
    base = platform.settings.handover_base_url
    with httpx.Client(timeout=30) as client:
        # Public, as the real Routing API: no token needed.
        found = client.get(f"{base}/v1/routes", params={"leikaKey": LEIKA, "ars": KOELN})
        assert found.status_code == 200
        [route] = found.json()["routes"]
        assert route["destinationId"] == "d7c1a5e2-4b3f-4e8a-9c6d-0f1e2a3b4c51"
        parameters = route["destinationParameters"]
        assert parameters["submissionUrl"] == base
        assert parameters["encryptionKid"] == parameters["publicKeys"]["keys"][0]["kid"]
        assert (
            route_destination(client, base, LEIKA, KOELN) == "d7c1a5e2-4b3f-4e8a-9c6d-0f1e2a3b4c51"
        )
        elsewhere = client.get(f"{base}/v1/routes", params={"leikaKey": LEIKA, "ars": "0" * 12})
        assert elsewhere.json() == {"count": 0, "offset": 0, "totalCount": 0, "routes": []}
        for params in ({"leikaKey": LEIKA}, {"leikaKey": "123", "ars": KOELN}, {"ars": KOELN}):
            assert client.get(f"{base}/v1/routes", params=params).status_code == 400
        with pytest.raises(RoutingFailed) as nowhere:
            route_destination(client, base, LEIKA, "051110000000")
        assert not nowhere.value.retryable
        assert nowhere.value.reason == f"no destination for LeiKa {LEIKA} in region 051110000000"
        with pytest.raises(RoutingFailed) as down:
            route_destination(client, f"http://127.0.0.1:{free_port()}", LEIKA, KOELN)
        assert down.value.retryable


def test_a_region_without_a_route_sends_the_case_to_a_person_and_nothing_is_sent(
    platform: Platform, database_url: str, tmp_path: Path
) -> None:
    with own_database(database_url, tmp_path, "routing") as url:
        ctx = context_for(platform, url, tmp_path, handover_region_key="051110000000")
        try:
            case_id = processing_case(ctx, SERVICE, ANSWERS)
            result = deliver_submission(ctx, case_id, refer=refer_or_note)
            assert result.status == "failed" and result.attempts == 1
            assert result.reason == f"no destination for LeiKa {LEIKA} in region 051110000000"
            with Session(ctx.engine) as session:
                case = session.get(Case, case_id)
                handover = session.exec(select(Handover).where(Handover.case_id == case_id)).one()
            assert case is not None and case.status == "referred"
            assert handover.status == "failed" and handover.delivered_at is None
        finally:
            ctx.close()


def test_the_routed_destination_is_the_one_delivered_to(
    platform: Platform, database_url: str, tmp_path: Path
) -> None:
    with own_database(database_url, tmp_path, "routed") as url:
        ctx = context_for(platform, url, tmp_path)
        try:
            [case_id] = submit_cases(ctx, SERVICE, [ANSWERS])
            # The service's own block names another destination: the route wins.
            with Session(ctx.engine) as session:
                session.add(
                    Handover(case_id=case_id, destination_id="f9a3d7b1-5c2e-4d8f-a6b4-3e1c0d2f4a73")
                )
                session.commit()
            result = deliver_submission(ctx, case_id, refer=refer_or_note)
            assert result.status in ("delivered", "accepted"), result
            with Session(ctx.engine) as session:
                handover = session.exec(select(Handover).where(Handover.case_id == case_id)).one()
            assert handover.destination_id == "d7c1a5e2-4b3f-4e8a-9c6d-0f1e2a3b4c51"
        finally:
            ctx.close()
