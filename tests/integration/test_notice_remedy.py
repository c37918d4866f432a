"""Every shipped service's documents, rendered as PDFs, name the remedy its definition declares.

The notice is rendered by `knopfdruck services preview` for every outcome that has a document
(approval and rejection), with the first integrator test case's persona and answers, and the
PDF's text is checked against `remedy_for(definition.procedure)`: the remedy, its law, and the
authority or court with its address. Before issue 20 every notice said Widerspruch under
§ 70 VwGO at the Stadthaus, whatever the service.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pypdf
import pytest
import yaml

from backend.definitions.loader import load_definition
from backend.definitions.models import ServiceDefinition
from backend.domain.remedy import remedy_for
from prefill.configuration import build_default_registry
from tests.conftest import ROOT

SHIPPED = sorted(
    folder.name
    for folder in (ROOT / "services").iterdir()
    if (folder / "service.yaml").is_file() and not folder.name.startswith(("_", "."))
)


def _definition(slug: str) -> ServiceDefinition:
    return load_definition(ROOT / "services" / slug / "service.yaml", build_default_registry())


def _text(pdf: Path) -> str:
    """The PDF's text on one line: the Belehrung wraps anywhere, and page footers interleave."""
    reader = pypdf.PdfReader(pdf)
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def _preview(slug: str, out: Path, data_dir: Path) -> list[Path]:
    """Render every outcome's documents with the service's first integrator test case."""
    case = yaml.safe_load((ROOT / "services" / slug / "tests" / "cases.yaml").read_text())["cases"][
        0
    ]
    args = ["services", "preview", slug, "--persona", case["persona"], "-o", str(out)]
    for key, value in (case.get("answers") or {}).items():
        shown = str(value).lower() if isinstance(value, bool) else str(value)
        args += ["--answer", f"{key}={shown}"]
    done = subprocess.run(
        [sys.executable, "-m", "knopfdruck.cli", *args],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
        env={**os.environ, "KNOPFDRUCK_DATA_DIR": str(data_dir)},
    )
    assert done.returncode == 0, done.stderr
    return [Path(line) for line in done.stdout.splitlines() if line.endswith(".pdf")]


def _issuing() -> list[str]:
    """Shipped services that issue documents; the others hand the case to a Fachverfahren."""
    return [slug for slug in SHIPPED if _definition(slug).documents]


def test_a_service_without_documents_hands_its_cases_over() -> None:
    """No shipped service is left out of the remedy check below except one decided elsewhere."""
    silent = [slug for slug in SHIPPED if slug not in _issuing()]
    assert all(_definition(slug).processing == "external" for slug in silent), silent
    assert _issuing(), "no shipped service issues a document"


@pytest.mark.parametrize("slug", _issuing())
def test_every_document_names_the_remedy_of_its_definition(slug: str, tmp_path: Path) -> None:
    definition = _definition(slug)
    assert definition.procedure is not None, f"{slug} declares no procedure"
    remedy = remedy_for(definition.procedure)
    pdfs = _preview(slug, tmp_path / "out", tmp_path)
    expected = {f"{d.id}-{o}" for d in definition.documents for o in d.on}
    assert {p.name.rsplit("-", 1)[0] for p in pdfs} == expected
    kinds = {d.id: d.kind for d in definition.documents}
    noticed = {o for d in definition.documents if d.kind == "notice" for o in d.on}
    for pdf in pdfs:
        text = _text(pdf)
        # The platform-wide address of old is gone from every document.
        assert "Stadthaus" not in text, pdf.name
        doc_id, outcome = pdf.stem.rsplit("-", 2)[:2]
        if kinds[doc_id] == "certificate" and outcome in noticed:
            # A certificate that a notice covers (the windscreen permit) leaves the remedy to
            # the notice issued with it, which this loop checks.
            assert "Rechtsbehelfsbelehrung" not in text, pdf.name
            continue
        if remedy.kind == "none":
            assert "kein Verwaltungsakt" in text and "Rechtsbehelf ist dagegen nicht" in text
            assert "Widerspruch" not in text and "VwGO" not in text, pdf.name
            continue
        assert "Rechtsbehelfsbelehrung" in text, pdf.name
        body = remedy.lodge_with
        assert body is not None
        assert f"{body.at}, {body.address}" in text, pdf.name
        if remedy.kind == "klage":
            assert "Klage beim Verwaltungsgericht" in text and "§ 74 Abs. 1 Satz 2 VwGO" in text
            assert "Urkundsbeamten der Geschäftsstelle" in text and "§ 55a VwGO" in text
            assert "Widerspruch erhoben" not in text and "§ 70 VwGO" not in text
            assert str(definition.procedure.legal_basis) in text  # why there is no Vorverfahren
        elif remedy.kind == "einspruch":
            assert "Einspruch" in text and "§ 347 AO" in text and "§ 355 Abs. 1 AO" in text
            assert "VwGO" not in text and "Widerspruch" not in text
        else:
            assert "Widerspruch erhoben werden" in text
            law = (
                "§§ 78, 83, 84 SGG"
                if definition.procedure.regime == "sgg_widerspruch"
                else ("§§ 68, 70 VwGO")
            )
            assert law in text, pdf.name
        court = definition.procedure.court
        if court is not None:
            assert f"{court.at}, {court.address}" in text, pdf.name
        if definition.automation.legal_basis:
            assert f"die {remedy.period_name_de} läuft dabei weiter" in text


def test_kindergeld_says_einspruch_at_the_familienkasse(tmp_path: Path) -> None:
    pdfs = _preview("kindergeld", tmp_path / "out", tmp_path)
    assert pdfs
    for pdf in pdfs:
        text = _text(pdf)
        assert "Einspruch" in text and "§ 347 AO" in text
        assert "bei der Familienkasse Nordrhein-Westfalen West" in text
        assert "beim Finanzgericht Köln" in text  # the Klage after the Einspruchsentscheidung
        for wrong in ("VwGO", "Widerspruch", "Stadthaus", "Stadt Köln"):
            assert wrong not in text, (pdf.name, wrong)


def test_meldebescheinigung_has_no_widerspruch(tmp_path: Path) -> None:
    (pdf,) = _preview("meldebescheinigung", tmp_path / "out", tmp_path)
    text = _text(pdf)
    assert "Sie ist kein Verwaltungsakt; ein Rechtsbehelf ist dagegen nicht gegeben." in text
    assert "Widerspruch" not in text and "Rechtsbehelfsbelehrung" not in text
    assert len(pypdf.PdfReader(pdf).pages) == 1


def test_einmalzahlung_names_the_authority_in_its_own_grammar(tmp_path: Path) -> None:
    """The old notice read 'bei der Land Nordrhein-Westfalen – …': a name glued into a frame."""
    for pdf in _preview("einmalzahlung-studierende", tmp_path / "out", tmp_path):
        text = _text(pdf)
        assert "bei der Land" not in text
        assert "beim Verwaltungsgericht Köln, Appellhofplatz, 50667 Köln" in text
