"""Every HTML form of the portal and the console, found by crawling, posted with hostile input.

Three browsers (anonymous, a citizen, a supervisor) crawl the server-rendered pages by their links
from / and /console/. Each distinct form (action template and field set) then gets a bounded,
derandomized Hypothesis run: hostile text (hostile.py) in some fields with the CSRF token and the
other fields valid, so the request reaches the handler; mangled and duplicated names, missing
fields, too many fields and oversized bodies. Every answer must be a page or a redirect: never a
5xx, never a traceback. Failures are collected, not raised, and reported by form and input class;
the classes the edge's text validation refuses (hostile.EDGE_CLASSES) are asserted on their own.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox.personas import persona_by_id
from tests.conftest import Platform
from tests.integration.enginekit import objection_case
from tests.security.formkit import Browser, Form, crawl, distinct
from tests.security.hostile import (
    EDGE_CLASSES,
    HOSTILE,
    Findings,
    encode_multipart,
    encode_query,
    encode_urlencoded,
    hostile_text,
    retried,
)
from tests.security.webkit import automation_switches, restore_automation, submitted_case

# schemathesis and the strategies here draw with `random`; huge examples make huge reprs.
pytestmark = [
    pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning"),
    pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning"),
]
EXAMPLES_PER_CLASS = 2
MAX_QUERY = 60_000
SEED_SERVICES = ("meldebescheinigung", "anwohnerparkausweis", "hundesteuer-anmeldung",
                 "lastenrad-zuschuss", "kindergeld", "maengelmelder", "bewohnerparken")  # fmt: skip
"""Drafts the citizen holds before the crawl, so their topic, held-data and check pages (and
their forms) are linked from the case list."""
STRUCTURAL = ("mangled names", "duplicated fields", "missing fields", "too many fields",
              "oversized body")  # fmt: skip


@dataclass
class Seeded:
    """The records the fuzzer may change: other tests' cases stay untouched."""

    citizen: set[str]
    check_page: str
    referred: str


def _referred_case(api: httpx.Client) -> tuple[str, str]:
    """(application id, case id) of a case a free-text remark sent to a clerk (DESIGN.md)."""
    application = api.post("/applications", json={"service": "meldebescheinigung"}).json()["id"]
    assert api.patch(f"/applications/{application}", json={"remark": "Bitte prüfen."}).is_success
    case_id: str = api.post(f"/applications/{application}/submit").json()["case_id"]
    deadline = time.monotonic() + 30
    while api.get(f"/cases/{case_id}").json()["status"] != "referred":
        assert time.monotonic() < deadline, "the remark did not refer the case"
        time.sleep(0.2)
    return application, case_id


def _seed(platform: Platform) -> Seeded:
    """Drafts of several services, a decided case with its notice, a referred case for the
    citizen (to withdraw) and one the supervisor has taken (every clerk form shows on it)."""
    made = submitted_case(platform, CITIZEN)
    ids = set(made.values())
    # A Bescheid with a Widerspruch: a Meldebescheinigung is no administrative act and shows no
    # objection form (issue 20, item 1).
    _api, bescheid = objection_case(platform, CITIZEN)
    ids.add(bescheid)
    with platform.api(CITIZEN) as api:
        for slug in SEED_SERVICES:
            started = api.post("/applications", json={"service": slug})
            if started.status_code == 201:  # a service the citizen may not use shows no form
                ids.add(started.json()["id"])
        ids.update(_referred_case(api))
        _, for_clerk = _referred_case(api)
    with platform.api(SUPERVISOR) as console:
        assert console.post(f"/console/cases/{for_clerk}/assign", json={}).is_success
    return Seeded(ids, f"/applications/{made['application_id']}/check", for_clerk)


def _assisted_draft(clerk: Browser) -> str:
    """A walk-in application the clerk fills in at the counter, so its form can be fuzzed."""
    erika = persona_by_id(CITIZEN)
    assert erika is not None and erika.idnr and erika.birthdate
    walk_in = {
        "csrf_token": clerk.csrf,
        "service": "meldebescheinigung",
        "idnr": erika.idnr,
        "family_name": erika.family_name,
        "given_names": erika.given_name,
        "birthdate": erika.birthdate.strftime("%d.%m.%Y"),
    }
    started = clerk.client.post("/console/assisted", data=walk_in)
    assert started.status_code == 303, started.text
    draft_id: str = started.headers["location"].rsplit("/", 1)[-1]
    return draft_id


def _short(pairs: list[tuple[str, str]]) -> str:
    def cut(text: str) -> str:
        text = text.encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace")
        return text if len(text) <= 60 else f"{text[:40]}…({len(text)} chars)"

    return ", ".join(f"{cut(k)}={cut(v)}" for k, v in pairs[:8])


def _mutations(form: Form, kind: str) -> st.SearchStrategy[list[tuple[str, str]]]:
    """The fields to send in one submission of the form, changed as `kind` says."""

    @st.composite
    def draw(data: Any) -> list[tuple[str, str]]:
        button = data(st.sampled_from(form.buttons)) if form.buttons else None
        pairs = form.valid_pairs(button)
        free = [i for i, (name, _) in enumerate(pairs) if name != "csrf_token"]
        short = hostile_text().filter(lambda lv: len(lv[1]) < 2_000).map(lambda lv: lv[1])
        if kind in HOSTILE:
            value = data(HOSTILE[kind])
            if not free:  # a form of only a token: the hostile value goes in a field of its own
                return [*pairs, ("q", value)]
            targets = data(st.lists(st.sampled_from(free), min_size=1, unique=True))
            return [(k, value if i in targets else v) for i, (k, v) in enumerate(pairs)]
        if kind == "mangled names":
            name, target = data(short), data(st.sampled_from(free or [0]))
            return [(name if i == target and i in free else k, v) for i, (k, v) in enumerate(pairs)]
        if kind == "duplicated fields":
            value = data(short)
            return pairs + [(k, value) for i, (k, _) in enumerate(pairs) if i in free]
        if kind == "missing fields":
            gone = set(data(st.lists(st.sampled_from(free or [-1]), unique=True)))
            return [p for i, p in enumerate(pairs) if i not in gone]
        if kind == "too many fields":
            return pairs + [(f"extra{i}", "x") for i in range(300)]
        assert kind == "oversized body", kind
        return [*pairs, ("padding", "x" * data(st.sampled_from([300_000, 1_100_000])))]

    return draw()


SESSION_ENDING_CLASSES = ("markup and templates", "malformed percent-encoding", "NUL",
                          "long strings", "mangled names", "duplicated fields")  # fmt: skip
"""What a logout form gets: each post costs a new login, and logins are rate-limited per account
(60 in 10 minutes) for the whole test session. Its `next` field meets open-redirect probes."""


def _examples(kind: str, ends_session: bool) -> int:
    if ends_session:
        return 1  # each example costs a new login
    if kind in ("long strings", "oversized body", "too many fields", "missing fields"):
        return 1  # slow (up to 1 MB), or with few distinct values to try
    return EXAMPLES_PER_CLASS


def _send(browser: Browser, form: Form, pairs: list[tuple[str, str]]) -> httpx.Response:
    sent = [(k, browser.csrf) if k == "csrf_token" else (k, v) for k, v in pairs]
    if form.method == "GET":
        # httpx refuses URLs over 64 kB; servers stop far earlier, so longer adds nothing.
        query = encode_query(sent)[:MAX_QUERY]
        return browser.client.get(f"{form.action.split('?')[0]}?{query}")
    if form.multipart:
        body, content_type = encode_multipart(sent)
    else:
        body, content_type = encode_urlencoded(sent), "application/x-www-form-urlencoded"
    return browser.client.post(form.action, content=body, headers={"content-type": content_type})


def _problem(response: httpx.Response, base_url: str) -> str | None:
    """Why the answer is not what a browser should get, or None."""
    text = response.text
    if response.status_code >= 500:
        return f"HTTP {response.status_code}"
    if "Traceback (most recent call last)" in text or "Internal Server Error" in text:
        return f"HTTP {response.status_code} with a traceback or 'Internal Server Error'"
    if response.is_redirect:
        location = response.headers.get("location", "")
        if not location:
            return "redirect without Location"
        # A browser resolves "//host" and "/\\host" to another site: an open redirect.
        target = urlsplit(urljoin(base_url + "/", location.replace("\\", "/")))
        if target.netloc != urlsplit(base_url).netloc:
            return f"redirect to another site: {location[:80]}"
        return None
    if "text/html" not in response.headers.get("content-type", ""):
        return f"HTTP {response.status_code} is not a page: {response.headers.get('content-type')}"
    if "</html>" not in text:
        return f"HTTP {response.status_code}: an unfinished page"
    return None


def _fuzz_form(browser: Browser, form: Form, found: Findings) -> None:
    """Every input class against the form, a few derandomized Hypothesis examples each."""
    ends_session = form.action.endswith("/logout")
    for kind in SESSION_ENDING_CLASSES if ends_session else [*HOSTILE, *STRUCTURAL]:
        _fuzz_form_with(browser, form, kind, found)


def _fuzz_form_with(browser: Browser, form: Form, kind: str, found: Findings) -> None:
    ends_session = form.action.endswith("/logout")
    where = f"{browser.persona or 'anonymous'}: {form.template}"

    @given(pairs=_mutations(form, kind))
    @settings(
        max_examples=_examples(kind, ends_session),
        deadline=None,
        database=None,
        derandomize=True,  # the same requests on every run: a CI failure can be reproduced
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    def run(pairs: list[tuple[str, str]]) -> None:
        found.requests += 1
        try:
            answer = retried(lambda: _send(browser, form, pairs))
            problem = _problem(answer, browser.platform.base_url)
        except httpx.HTTPError as exc:  # a dropped connection is a server failure too
            problem = f"no answer: {type(exc).__name__}"
        if problem:
            found.failures[(where, kind)].append(f"{problem} <- {_short(pairs)}")
        if ends_session:
            browser.relogin()

    run()


CITIZEN = "erika"
SUPERVISOR = "supervisor-buergeramt"
PERSONAS: list[tuple[str | None, list[str], tuple[str, ...]]] = [
    (None, ["/", "/console/", "/verify", "/services"], ("/",)),
    (CITIZEN, ["/", "/cases", "/mailbox", "/my-data", "/services"], ("/",)),
    (SUPERVISOR, ["/console/", "/console/worklist"], ("/console",)),
]
"""Who crawls, from where, and which paths they follow; the console's clerks stay in it."""
ENDS_RECORD = re.compile(
    r"/(delete|submit|withdraw|decide|cancel)$|^/console/assisted/[0-9a-f]{32}$"
)
"""Forms after which their draft or case is gone or closed: fuzzed after the others."""


def _order(form: Form) -> tuple[bool, bool]:
    path = urlsplit(form.action).path
    return path.endswith("/logout"), bool(ENDS_RECORD.search(path))


@pytest.fixture(scope="module")
def findings(platform: Platform) -> Iterator[Findings]:
    """One crawl and fuzz run, shared by the assertions below."""
    seeded = _seed(platform)
    before = automation_switches(platform)
    found = Findings()
    try:
        for persona, starts, prefixes in PERSONAS:
            browser = Browser.open(platform, persona)
            try:
                allowed = seeded.citizen
                if persona == CITIZEN:
                    starts = [*starts, seeded.check_page]
                if persona == SUPERVISOR:
                    draft = _assisted_draft(browser)
                    allowed = {seeded.referred, draft}
                    taken = f"/console/cases/{seeded.referred}"
                    starts = [*starts, taken, f"/console/assisted/{draft}"]
                forms, pages = crawl(browser, starts, prefixes, allowed)
                found.pages += pages
                # The sandbox IdP's login form is a test double of the identity provider, not
                # the portal's (and answers in JSON like the rest of /sandbox/).
                mine = [
                    f
                    for f in distinct(forms)
                    if f.ids() <= allowed and not urlsplit(f.action).path.startswith("/sandbox/")
                ]
                for form in sorted(mine, key=_order):
                    found.forms.append(f"{persona or 'anonymous'}: {form.template}")
                    _fuzz_form(browser, form, found)
            finally:
                browser.client.close()
    finally:
        restore_automation(platform, before)
    print(
        f"\nform fuzz: {found.pages} pages crawled, {len(found.forms)} forms, "
        f"{found.requests} requests, {len(found.failures)} failing form/class pairs"
    )
    yield found


def test_crawl_finds_the_forms_of_portal_and_console(findings: Findings) -> None:
    expected = {
        "anonymous: GET /services",
        "anonymous: POST /verify",
        "erika: POST /services/{slug}/start",
        "erika: POST /applications/{id}/held",
        "erika: POST /applications/{id}/submit",
        "erika: POST /applications/{id}/delete",
        "erika: POST /cases/{id}/objection",
        "erika: POST /mailbox/email",
        "erika: POST /logout",
        "supervisor-buergeramt: POST /console/assisted",
        "supervisor-buergeramt: POST /console/assisted/{id}",
        "supervisor-buergeramt: POST /console/cases/{id}/decide",
        "supervisor-buergeramt: POST /console/cases/{id}/cancel",
        "supervisor-buergeramt: POST /console/services/{slug}/automation",
        "supervisor-buergeramt: POST /console/logout",
    }
    missing = expected - set(findings.forms)
    assert not missing, f"not found by the crawl: {sorted(missing)}; found: {findings.forms}"


def test_forms_answer_hostile_input_without_server_error(findings: Findings) -> None:
    failures = findings.report(EDGE_CLASSES, inside=False)
    assert not failures, f"server errors or non-pages on forms:\n{failures}"


def test_forms_answer_edge_text_classes_without_server_error(findings: Findings) -> None:
    failures = findings.report(EDGE_CLASSES, inside=True)
    assert not failures, (
        f"server errors for {sorted(EDGE_CLASSES)} (the edge's text validation answers these "
        f"with 422):\n{failures}"
    )


assert set(EDGE_CLASSES) - {"deep JSON"} <= set(HOSTILE)
