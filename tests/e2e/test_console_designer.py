"""The service designer in Chromium: a designer writes a new service from nothing, a supervisor
approves and publishes it (four eyes), and a citizen applies for it; every page passes axe.

The platform here has a database and a services folder of its own, so publishing a service
changes nothing for the other browser tests (which share the session's platform)."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect
from pypdf import PdfReader
from sqlalchemy.engine import make_url

from backend.crypto import configured_key_ring
from backend.db import normalise_url
from backend.definitions.constraints import local_today
from backend.settings import Settings
from tests.conftest import MailCatcher, Platform
from tests.e2e.portal import (
    Journey,
    assert_accessible,
    complete_steps,
    login_as,
    press_and_wait,
    start_application,
    submit,
)
from tests.integration.topologykit import copy_services, drop_database, fresh_database
from tests.livesrv import TEST_SETTINGS, free_port, serve_in_thread

SLUG = "sondernutzung-gehweg"
TITLE = "Sondernutzung Gehweg: Tische vor dem Café"


@pytest.fixture(scope="module")
def own_platform(
    database_url: str, tmp_path_factory: pytest.TempPathFactory, smtp_server: MailCatcher
) -> Iterator[Platform]:
    """A second platform in this process, without a worker (DBOS runs once per process)."""
    from backend.migrate import upgrade_database
    from knopfdruck.app import create_app

    tmp = tmp_path_factory.mktemp("designer")
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp / 'designer.db'}"
    else:
        parsed = make_url(normalise_url(database_url))
        url = parsed.set(database=f"{parsed.database}_designer").render_as_string(
            hide_password=False
        )
        fresh_database(url)
    port = free_port()
    settings = Settings(
        base_url=f"http://127.0.0.1:{port}",
        data_dir=tmp / "data",
        database_url=url,
        services_dir=copy_services(tmp / "services"),
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
        # The key ring is process-wide: keep the session platform's, so its data stays readable.
        field_encryption_keys=",".join(k.decode("ascii") for k in configured_key_ring()),
        _env_file=None,
        **{**TEST_SETTINGS, "worker_in_process": False},
    )
    upgrade_database(url)
    try:
        with serve_in_thread(create_app(settings), port) as base:
            yield Platform(base, settings)
    finally:
        if not url.startswith("sqlite"):
            drop_database(url)


def console_login(page: Page, platform: Platform, name: str, start: str) -> None:
    page.goto(f"{platform.base_url}/console/login?next={start}")
    page.get_by_label(name).check()
    page.get_by_role("button", name="Anmelden").click()
    expect(page.get_by_role("button", name=re.compile("Abmelden|Sign out"))).to_be_visible()


def logout(page: Page) -> None:
    press_and_wait(page, page.get_by_role("button", name=re.compile("Abmelden|Sign out")))


@dataclass(frozen=True)
class Built:
    """A service of the usability report, as a department's designer writes it again."""

    slug: str
    title: tuple[str, str]
    legal_basis: str
    fields: list[dict[str, str]]
    rules: list[dict[str, str]]
    parameters: list[dict[str, str]]
    fees: list[dict[str, str]]
    tests: str
    answers: dict[str, str]
    """What the citizen types afterwards, by field id."""


def _in_days(days: int) -> date:
    return local_today() + timedelta(days=days)


KOELN = {
    "regime": "vwgo_klage",
    "procedure_legal_basis": "§ 110 Abs. 1 JustG NRW",
    "authority_name": "Stadt Köln – Amt für Straßen und Radwegebau",
    "authority_at": "bei der Stadt Köln, Amt für Straßen und Radwegebau",
    "authority_address": "Willy-Brandt-Platz 2, 50679 Köln",
    "court_name": "Verwaltungsgericht Köln",
    "court_at": "beim Verwaltungsgericht Köln",
    "court_address": "Appellhofplatz, 50667 Köln",
}
SONDERNUTZUNG = Built(
    slug=SLUG,
    title=(TITLE, "Special use of the pavement: café tables"),
    legal_basis="§ 18 Abs. 1 StrWG NRW",
    fields=[
        {"id": "flaeche_qm", "type": "decimal", "label_de": "Fläche in Quadratmetern",
         "label_en": "Area in square metres", "max": "200"},
        {"id": "beginn", "type": "date", "label_de": "Beginn der Nutzung",
         "label_en": "Start of use"},
    ],
    rules=[
        {"id": "klein_genug", "kind": "eligibility", "legal_reference": "§ 3 Sondernutzungssatzung",
         "condition": "fields.flaeche_qm <= 20.0", "otherwise": "refer",
         "reason_de": "Die Fläche ist nicht größer als 20 m².",
         "reason_en": "The area is no larger than 20 m².",
         "reason_otherwise_de": "Mehr als 20 m²: eine Sachbearbeiterin prüft den Antrag.",
         "reason_otherwise_en": "More than 20 m²: a clerk will check the application."},
        {"id": "rechtzeitig", "kind": "eligibility", "legal_reference": "§ 4 Sondernutzungssatzung",
         "condition": "days_between(reference_date, fields.beginn) >= 7", "otherwise": "reject",
         "reason_de": "Sie haben mindestens sieben Tage vor Beginn beantragt.",
         "reason_en": "You applied at least seven days ahead.",
         "reason_otherwise_de": "Der Antrag muss sieben Tage vor Beginn gestellt werden.",
         "reason_otherwise_en": "The application must be made seven days ahead."},
        {"id": "gebuehr_berechnen", "kind": "calculation", "legal_reference": "Tarif Nr. 1",
         "output": "gebuehr_gesamt", "expression": "fields.flaeche_qm * params.satz_je_qm",
         "rounding": "cents_half_up", "reason_de": "Die Gebühr beträgt {amount} Euro.",
         "reason_en": "The fee is {amount} euros."},
    ],
    parameters=[{"name": "satz_je_qm", "value": "2,50", "legal_reference": "Tarif Nr. 1"}],
    fees=[{"id": "gebuehr", "amount": "amounts.gebuehr_gesamt", "legal_reference": "Tarif Nr. 1",
           "label_de": "Sondernutzungsgebühr", "label_en": "Special use fee"}],
    tests=f"""cases:
  - name: Zwölf Quadratmeter, rechtzeitig
    persona: erika
    reference_date: {local_today()}
    answers: {{flaeche_qm: 12.5, beginn: {_in_days(14)}}}
    expect: {{outcome: approved, amounts: {{gebuehr: 31.25}}}}
  - name: Mehr als 20 Quadratmeter prüft eine Person
    persona: jonas
    reference_date: {local_today()}
    answers: {{flaeche_qm: 25.0, beginn: {_in_days(14)}}}
    expect: {{outcome: referred, referral_reasons: [rule_referred]}}
  - name: Zu kurzfristig
    persona: erika
    reference_date: {local_today()}
    answers: {{flaeche_qm: 5.0, beginn: {_in_days(3)}}}
    expect: {{outcome: rejected}}
""",
    answers={"flaeche_qm": "12,5", "beginn": _in_days(14).strftime("%d.%m.%Y")},
)  # fmt: skip
MIETZUSCHUSS = Built(
    slug="mietzuschuss",
    title=("Mietzuschuss für Auszubildende", "Rent allowance for trainees"),
    legal_basis="§ 2 Richtlinie Mietzuschuss der Stadt Köln",
    fields=[
        {"id": "kaltmiete", "type": "decimal", "label_de": "Kaltmiete im Monat in Euro",
         "label_en": "Monthly rent without heating in euros", "max": "5000"},
    ],
    rules=[
        {"id": "miete_angegeben", "kind": "eligibility", "legal_reference": "§ 2 Richtlinie",
         "condition": "fields.kaltmiete > 0.0", "otherwise": "reject",
         "reason_de": "Sie zahlen Miete.", "reason_en": "You pay rent.",
         "reason_otherwise_de": "Ohne Miete gibt es keinen Zuschuss.",
         "reason_otherwise_en": "Without rent there is no allowance."},
        {"id": "zuschuss", "kind": "calculation", "legal_reference": "§ 3 Richtlinie",
         "output": "zuschuss", "expression": "fields.kaltmiete * 0.25 < params.hoechstbetrag"
                       " ? fields.kaltmiete * 0.25 : params.hoechstbetrag",
         "rounding": "cents_half_up", "reason_de": "Der Zuschuss beträgt {amount} Euro im Monat.",
         "reason_en": "The allowance is {amount} euros a month."},
    ],
    parameters=[{"name": "hoechstbetrag", "value": "150,00", "legal_reference": "§ 3 Richtlinie"}],
    fees=[],
    tests=f"""cases:
  - name: Ein Viertel der Miete
    persona: jonas
    reference_date: {local_today()}
    answers: {{kaltmiete: 420.0}}
    expect: {{outcome: approved, amounts: {{zuschuss: 105.00}}}}
  - name: Höchstens der Höchstbetrag
    persona: erika
    reference_date: {local_today()}
    answers: {{kaltmiete: 900.0}}
    expect: {{outcome: approved, amounts: {{zuschuss: 150.00}}}}
  - name: Ohne Miete kein Zuschuss
    persona: erika
    reference_date: {local_today()}
    answers: {{kaltmiete: 0.0}}
    expect: {{outcome: rejected}}
""",
    answers={"kaltmiete": "420,00"},
)  # fmt: skip


def fill(form: Locator, values: dict[str, str]) -> None:
    """Fill a form's inputs and selects by their names."""
    for name, value in values.items():
        control = form.locator(f"[name='{name}']")
        if control.evaluate("e => e.tagName") == "SELECT":
            control.select_option(value)
        else:
            control.fill(value)


def add(page: Page, kind: str, summary: str, values: dict[str, str]) -> Locator:
    """Open a list's "add" form, fill it, send it; returns the checks box."""
    page.locator("summary", has_text=summary).click()
    form = page.locator(f"form[action$='/items/{kind}/add']")
    fill(form, values)
    press_and_wait(page, form.get_by_role("button"))
    return page.locator("#checks")


def remove(page: Page, kind: str, item: str) -> None:
    form = page.locator(f"form[action$='/items/{kind}/remove']")
    form.locator("select[name='id']").select_option(item)
    press_and_wait(page, form.get_by_role("button"))


def build_in_designer(page: Page, service: Built, artifacts: Path) -> str:
    """From the scaffold to a green draft with the designer's forms only (the test cases in the
    code view, as an expert would); returns the draft's address."""
    page.get_by_label("Kurzname (Adresse im Portal)").fill(service.slug)
    press_and_wait(page, page.get_by_role("button", name="Entwurf anlegen"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(service.slug)
    checks = page.locator("#checks")
    # The scaffold's example authority is a TODO: no notice may name Gemeinde Beispielstadt.
    expect(checks).to_contain_text("procedure.authority.name: unfinished: TODO")

    # The scaffold's example question, rules and fee go; the held name and birth date stay.
    remove(page, "fields", "exemplare")
    for rule in ("mindestens_eine_ausfertigung", "uebliche_anzahl", "gebuehr_berechnen"):
        remove(page, "rules", rule)
    remove(page, "fees", "gebuehr")
    for parameter in service.parameters:
        form = page.locator("form[action$='/parameters/new']")
        fill(form, {**parameter, "valid_from": local_today().strftime("%d.%m.%Y")})
        press_and_wait(page, form.get_by_role("button"))
    for item in service.fields:
        add(page, "fields", "Feld hinzufügen", item)
    for item in service.rules:
        add(page, "rules", "Regel hinzufügen", item)
    for item in service.fees:
        add(page, "fees", "Gebühr hinzufügen", item)
    form = page.locator("form[action$='/procedure']")
    fill(form, KOELN)
    press_and_wait(page, form.get_by_role("button"))
    form = page.locator("form[action$='/automation']")
    fill(form, {"legal_basis": f"§ 35a VwVfG i. V. m. {service.legal_basis}"})
    press_and_wait(page, form.get_by_role("button"))
    page.get_by_label("Titel (de)", exact=True).fill(service.title[0])
    page.get_by_label("Titel (en)", exact=True).fill(service.title[1])
    page.get_by_label("Rechtsgrundlage des Dienstes").fill(service.legal_basis)
    press_and_wait(page, page.get_by_role("button", name="Speichern und prüfen", exact=True).first)
    # The scaffold's cases asked for copies; this service's cases replace them.
    page.locator("#tests").fill(service.tests)
    press_and_wait(page, page.get_by_role("button", name="Speichern und prüfen", exact=True).last)
    expect(checks).to_contain_text("Bestanden")
    expect(checks.get_by_text("grün")).to_have_count(3)
    return page.url.split("?")[0].split("#")[0]


def test_the_report_s_two_services_are_built_in_the_designer_and_used_by_a_citizen(
    page: Page, own_platform: Platform, artifacts: Path
) -> None:
    platform = own_platform
    console_login(page, platform, "Julia Weber", "/console/designer")
    expect(page.get_by_role("heading", level=1)).to_have_text("Dienst-Designer")
    assert_accessible(page, "designer-home", artifacts)
    page.screenshot(path=str(artifacts / "designer-home.png"), full_page=True)

    draft_url = build_in_designer(page, SONDERNUTZUNG, artifacts)
    definition = page.locator("#definition").input_value()
    assert "condition: fields.flaeche_qm <= 20.0" in definition
    assert "# Held data: read from a registry" in definition  # the scaffold's comments stay
    assert "exemplare" not in definition
    assert_accessible(page, "designer-draft", artifacts)
    page.screenshot(path=str(artifacts / "designer-draft.png"), full_page=True)

    # A rule the checker can refuse before it runs: int against double.
    checks = add(page, "rules", "Regel hinzufügen", {
        "id": "falsch", "kind": "eligibility", "legal_reference": "§ 3",
        "condition": "fields.flaeche_qm <= 20", "otherwise": "refer",
        "reason_de": "a", "reason_en": "a", "reason_otherwise_de": "b", "reason_otherwise_en": "b",
    })  # fmt: skip
    expect(checks).to_contain_text("Nicht bestanden")
    expect(checks).to_contain_text("CEL does not mix int and double")
    page.screenshot(path=str(artifacts / "designer-draft-red.png"), full_page=True)
    press_and_wait(page, page.get_by_role("button", name="Zur Freigabe geben"))
    expect(page.locator(".error-summary")).to_contain_text("Nur ein geprüfter Entwurf")
    remove(page, "rules", "falsch")
    expect(checks).to_contain_text("Bestanden")

    # A form error keeps what was typed and links to the input.
    add(page, "fields", "Feld hinzufügen", {"id": "Tische!", "label_de": "Tische",
                                              "label_en": "Tables", "type": "integer"})  # fmt: skip
    summary = page.locator(".error-summary")
    expect(summary).to_contain_text("Kleinbuchstaben")
    expect(summary.get_by_role("link").nth(1)).to_have_attribute("href", "#field-id")
    expect(page.locator("form[action$='/items/fields/add'] [name='label_de']")).to_have_value(
        "Tische"
    )

    # The citizen's form as Erika will see it: her register data to confirm, then the questions.
    page.goto(draft_url)
    page.locator("#form-persona").select_option("erika")
    press_and_wait(page, page.get_by_role("button", name="Formular ansehen"))
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Diese Angaben liegen der Verwaltung schon vor"
    )
    expect(page.locator("main")).to_contain_text("Mustermann")
    expect(page.locator(".preview-banner")).to_contain_text("Vorschau des Entwurfs")
    assert_accessible(page, "designer-form-held", artifacts)
    page.screenshot(path=str(artifacts / "designer-form-held.png"), full_page=True)
    press_and_wait(page, page.get_by_role("button", name="Weiter"))
    expect(page.get_by_label("Fläche in Quadratmetern")).to_be_visible()
    page.get_by_label("Fläche in Quadratmetern").fill("12,5")
    page.get_by_label("Beginn der Nutzung").fill(_in_days(10).strftime("%d.%m.%Y"))
    assert_accessible(page, "designer-form-questions", artifacts)
    page.screenshot(path=str(artifacts / "designer-form-questions.png"), full_page=True)
    press_and_wait(page, page.get_by_role("button", name="Weiter"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Ende der Vorschau")
    expect(page.locator("main")).to_contain_text("12,5")
    # What the draft decides for these answers, kept as a test case that must stay green.
    expect(page.locator("main")).to_contain_text("Bewilligung")
    expect(page.locator("main")).to_contain_text("31,25")
    assert_accessible(page, "designer-form-end", artifacts)
    page.screenshot(path=str(artifacts / "designer-form-end.png"), full_page=True)
    page.get_by_label("Als Testfall behalten: Name").fill("Vorschau: zehn Tage vorher")
    press_and_wait(page, page.get_by_role("button", name="Als Testfall speichern"))
    expect(checks).to_contain_text("Bestanden")
    expect(checks.get_by_text("grün")).to_have_count(4)
    expect(page.locator("#tests")).to_contain_text("name: 'Vorschau: zehn Tage vorher'")

    # The notice as Erika would receive it: the department's remedy, her answers listed.
    pdf = page.request.get(f"{draft_url}/preview?persona=erika&outcome=approved")
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    (artifacts / "designer-preview.pdf").write_bytes(pdf.body())
    text = " ".join(
        " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.body())).pages).split()
    )
    assert "Erika Mustermann" in text and "VORSCHAU" in text
    assert "Verwaltungsgericht Köln" in text and "Beispielstadt" not in text
    # The letterhead is the authority the remedy names, not the platform's default office.
    assert "Amt für Straßen und Radwegebau" in text and "Bürgeramt" not in text
    assert "Fläche in Quadratmetern" in text
    # Each held value says where it comes from (the register, as of its date).
    assert "Melderegister" in text

    press_and_wait(page, page.get_by_role("button", name="Zur Freigabe geben"))
    expect(page.locator("dl.facts")).to_contain_text("Wartet auf Freigabe")
    # Four eyes: the author has no button to approve her own draft.
    expect(page.get_by_role("button", name="Freigeben und veröffentlichen")).to_have_count(0)
    expect(page.get_by_text("Vier-Augen-Prinzip")).to_be_visible()

    # The second service of the report, the one whose decimal rule failed at runtime then.
    page.goto(f"{platform.base_url}/console/designer")
    second_url = build_in_designer(page, MIETZUSCHUSS, artifacts)
    assert "fields.kaltmiete > 0.0" in page.locator("#definition").input_value()
    press_and_wait(page, page.get_by_role("button", name="Zur Freigabe geben"))
    logout(page)

    console_login(page, platform, "Martin Hoffmann", "/console/designer")
    for url in (draft_url, second_url):
        page.goto(url)
        expect(page.get_by_role("heading", name="Freigabe")).to_be_visible()
        assert_accessible(page, "designer-review", artifacts)
        press_and_wait(page, page.get_by_role("button", name="Freigeben und veröffentlichen"))
        expect(page.get_by_role("status")).to_contain_text("Veröffentlicht")
        expect(page.locator("dl.facts")).to_contain_text("freigegeben von Martin Hoffmann")
    page.screenshot(path=str(artifacts / "designer-published.png"), full_page=True)
    folder = Path(platform.settings.services_dir) / SLUG
    assert TITLE in (folder / "service.yaml").read_text(encoding="utf-8")
    logout(page)

    # Citizens find and use both services at once, without a restart.
    login_as(page, platform, "Erika Mustermann")
    for service in (SONDERNUTZUNG, MIETZUSCHUSS):
        journey = Journey(service=service.slug, title=service.title[0],
                          persona="Erika Mustermann", answers=service.answers)  # fmt: skip
        start_application(page, platform, journey)
        complete_steps(page, journey)
        assert submit(page, journey)
    page.screenshot(path=str(artifacts / "designer-citizen-submitted.png"), full_page=True)


def test_a_service_from_a_fim_schema_shows_what_is_still_to_do(
    page: Page, own_platform: Platform, artifacts: Path
) -> None:
    console_login(page, own_platform, "Julia Weber", "/console/designer")
    page.get_by_label("FIM-Datenschema (XDatenfelder 2.0 oder 3.0)").set_input_files(
        str(
            Path(__file__).resolve().parents[1]
            / "fixtures"
            / "fim"
            / "S00000121_blaue_karte_xdf2.xml"
        )
    )
    page.get_by_label("Kurzname (freiwillig)").fill("blaue-karte")
    press_and_wait(page, page.get_by_role("button", name="Aus FIM anlegen"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("blaue-karte")
    checks = page.locator("#checks")
    expect(checks).to_contain_text("Nicht bestanden")
    expect(checks).to_contain_text("unfinished: TODO")
    assert_accessible(page, "designer-fim-draft", artifacts)
    page.screenshot(path=str(artifacts / "designer-fim-draft.png"), full_page=False)


def test_designer_pages_in_english_pass_axe(
    page: Page, own_platform: Platform, artifacts: Path
) -> None:
    console_login(page, own_platform, "Julia Weber", "/console/designer")
    page.goto(f"{own_platform.base_url}/lang/en?next=/console/designer")
    expect(page.get_by_role("heading", level=1)).to_have_text("Service designer")
    assert_accessible(page, "designer-home-en", artifacts)
    page.goto(f"{own_platform.base_url}/console/designer/services/meldebescheinigung/diff")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Compare versions")
    assert_accessible(page, "designer-diff-en", artifacts)
    page.goto(f"{own_platform.base_url}/console/designer")
    page.get_by_role("link", name=SLUG).first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(SLUG)
    assert_accessible(page, "designer-draft-en", artifacts)
