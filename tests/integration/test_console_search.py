"""Find any case (issue 17, item 2): a clerk finds a case by the reference a citizen reads out,
by the applicant's name or date of birth; only within the own department; every hit shown is in
the access log and the citizen's data cockpit; the worklist names the applicant."""

from __future__ import annotations

from urllib.parse import quote

from sqlmodel import Session, col, select

from backend.cases.search_index import birth_date, name_words, normalise
from backend.records.models import CaseSearchTerm, RegistryAccess
from tests.conftest import Platform
from tests.integration.enginekit import engine, notified_case
from tests.integration.test_console_isolation import Browser


def test_names_fold_as_a_clerk_hears_them() -> None:
    assert normalise("Müller") == normalise("MUELLER") == "mueller"
    assert normalise("Strauß") == normalise("strauss")
    assert normalise("José") == "jose"
    assert name_words("Erika  Mustermann-Gabler") == ["erika", "mustermann", "gabler"]
    assert birth_date("12.08.1964") == birth_date("1964-08-12") == "1964-08-12"
    assert birth_date("31.02.1964") is None and birth_date("Erika") is None


def _search_reads(platform: Platform, case_id: str) -> list[RegistryAccess]:
    with Session(engine(platform)) as session:
        return list(
            session.exec(
                select(RegistryAccess).where(
                    RegistryAccess.case_id == case_id,
                    col(RegistryAccess.attributes_requested).is_not(None),
                )
            ).all()
        )


def test_a_clerk_finds_a_case_by_reference_name_and_birth_date(platform: Platform) -> None:
    citizen, case_id = notified_case(platform, "erika")
    reference = citizen.get(f"/cases/{case_id}").json()["reference"]
    with Session(engine(platform)) as session:
        terms = session.exec(select(CaseSearchTerm).where(CaseSearchTerm.case_id == case_id)).all()
    # Hashes only: no name in clear in the index.
    assert terms and all("mustermann" not in t.digest for t in terms)

    clerk = Browser(platform, "clerk-buergeramt")
    spoken = " ".join(reference.replace("-", "")).lower()  # "k d 2 0 2 6 ..."
    queries = [
        reference,
        spoken,
        reference[-9:].replace("-", " "),  # only the last eight characters
        "mustermann",
        "ERIKA Mustermann",
        "12.08.1964",
        "1964-08-12",
    ]
    before = len(_search_reads(platform, case_id))
    for q in queries:
        page = clerk.get(f"/console/search?q={quote(q)}&purpose=bearbeitung")
        assert page.status_code == 200, (q, page.text[:300])
        assert f"/console/cases/{case_id}" in page.text, q
        assert "Erika Mustermann" in page.text
    # Not every word matches: no hit. A word alone that is only part of a name: no hit.
    for q in ("Erika Schneider", "muster", "13.08.1964"):
        page = clerk.get(f"/console/search?q={quote(q)}")
        assert page.status_code == 200 and f"/console/cases/{case_id}" not in page.text, q

    reads = _search_reads(platform, case_id)
    search_reads = [
        r for r in reads[before:] if "Suchtreffer" in (r.attributes_requested or [""])[0]
    ]
    assert len(search_reads) == len(queries)
    assert all(r.purpose.startswith("Bearbeitung") for r in search_reads)
    cockpit = str(citizen.get("/me/data-access").json())
    assert "Suchtreffer" in cockpit

    # Another department's clerk finds nothing and no read is logged for them.
    other = Browser(platform, "clerk-ordnungsamt")
    count = len(_search_reads(platform, case_id))
    for q in (reference, "Mustermann"):
        page = other.get(f"/console/search?q={quote(q)}")
        assert page.status_code == 200 and case_id not in page.text
    assert len(_search_reads(platform, case_id)) == count

    # Bad input: a clear 422, nothing logged; an unknown purpose likewise.
    assert clerk.get("/console/search?q=" + "x" * 201).status_code == 422
    assert clerk.get("/console/search?q=Mustermann&purpose=neugier").status_code == 422
    assert len(_search_reads(platform, case_id)) == count


def test_the_worklist_names_the_applicant_and_every_page_has_the_search_box(
    platform: Platform,
) -> None:
    from tests.integration.enginekit import referred_case

    _citizen, case_id = referred_case(platform, "jonas")
    clerk = Browser(platform, "clerk-buergeramt")
    page = clerk.get("/console/worklist?assignee=&reason=referred")
    assert page.status_code == 200
    row = page.text.split(f"/console/cases/{case_id}", 1)[1].split("</tr>", 1)[0]
    assert "Jonas Schneider" in row
    for path in ("/console/", "/console/worklist", "/console/qa", f"/console/cases/{case_id}"):
        html = clerk.get(path).text
        assert 'role="search"' in html and 'action="/console/search"' in html, path
    csv = clerk.get("/console/worklist.csv").text
    assert "Jonas Schneider" not in csv


def test_reindex_rebuilds_terms_lost_or_made_with_an_old_key(platform: Platform) -> None:
    from sqlalchemy import delete

    from backend.cases.search_index import reindex_all
    from backend.context import build_context

    _citizen, case_id = notified_case(platform, "jonas")
    with Session(engine(platform)) as session:
        session.exec(delete(CaseSearchTerm).where(col(CaseSearchTerm.case_id) == case_id))
        session.commit()
    clerk = Browser(platform, "clerk-buergeramt")
    assert case_id not in clerk.get("/console/search?q=Schneider").text
    ctx = build_context(platform.settings)
    try:
        assert reindex_all(ctx.engine, batch=7) >= 1
    finally:
        ctx.close()
    assert case_id in clerk.get("/console/search?q=Jonas+Schneider").text
