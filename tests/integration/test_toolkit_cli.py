"""The integrator toolkit from the command line, and dev reload inside a running app."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pypdf
import yaml
from fastapi.testclient import TestClient

from backend.settings import Settings
from tests.conftest import ROOT

FIM = ROOT / "tests" / "fixtures" / "fim"


def run(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "knopfdruck.cli", *args],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
        env={**os.environ, "KNOPFDRUCK_DATA_DIR": str(data_dir)},
    )


def test_new_then_validate_then_test_then_preview(tmp_path: Path) -> None:
    services = tmp_path / "services"
    created = run(
        "services", "new", "sondernutzung", "--services", str(services), data_dir=tmp_path
    )
    assert created.returncode == 0, created.stderr
    assert "created" in created.stdout
    validated = run("services", "validate", str(services), data_dir=tmp_path)
    assert validated.returncode == 0, validated.stderr
    tested = run("services", "test", "--services", str(services), data_dir=tmp_path)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "0 failed" in tested.stdout

    out = tmp_path / "preview"
    year = int(
        yaml.safe_load((services / "sondernutzung/service.yaml").read_text())["valid_from"].year
    )
    preview = run(
        "services", "preview", "sondernutzung", "--persona", "jonas", "--answer", "exemplare=3",
        "--date", f"{year}-06-01", "--services", str(services), "-o", str(out),
        data_dir=tmp_path,
    )  # fmt: skip
    assert preview.returncode == 0, preview.stderr
    paths = [Path(line) for line in preview.stdout.splitlines() if line.endswith(".pdf")]
    assert {p.name for p in paths} == {
        "bescheid-approved-jonas.pdf",
        "bescheid-rejected-jonas.pdf",
    }
    text = pypdf.PdfReader(out / "bescheid-approved-jonas.pdf").pages[0].extract_text()
    assert "Jonas Schneider" in text  # from the sandbox Melderegister, not typed in
    assert "30,00" in text  # three copies at 10 euros, computed by the rules
    assert "VORSCHAU" in text


def test_preview_and_import_errors_are_clear(tmp_path: Path) -> None:
    unknown = run(
        "services", "preview", "meldebescheinigung", "--persona", "niemand", data_dir=tmp_path
    )
    assert unknown.returncode == 2
    assert "unknown persona 'niemand' (sandbox personas: erika" in unknown.stderr
    no_day = run(
        "services", "preview", "kindergeld", "--persona", "erika", "--date", "gestern",
        data_dir=tmp_path,
    )  # fmt: skip
    assert no_day.returncode == 2 and "'gestern' is no date YYYY-MM-DD" in no_day.stderr
    assert "Traceback" not in no_day.stderr
    missing = run("services", "preview", "gibtsnicht", "--persona", "erika", data_dir=tmp_path)
    assert missing.returncode == 2
    assert "Unknown service 'gibtsnicht'" in missing.stderr
    bad = tmp_path / "kaputt.xml"
    bad.write_text("<xdf:x xmlns:xdf='urn:x'><unclosed></xdf:x>", encoding="utf-8")
    broken = run("services", "import-fim", str(bad), data_dir=tmp_path)
    assert broken.returncode == 2
    assert "malformed XML" in broken.stderr and "Traceback" not in broken.stderr


def test_preview_renders_what_the_data_reach_and_names_what_it_cannot(tmp_path: Path) -> None:
    # Erika's Kindergeld is referred, so the approval's amount is never computed: the approved
    # notice cannot be shown for her data; the rejection can, and the preview says why not.
    out = tmp_path / "preview"
    result = run(
        "services", "preview", "kindergeld", "--persona", "erika", "-o", str(out),
        data_dir=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "the rules decide 'referred'" in result.stdout
    assert [p.name for p in out.iterdir()] == ["bescheid-rejected-erika.pdf"]
    assert "note: 'bescheid' for 'approved' not rendered" in result.stderr
    assert "--answer FIELD=VALUE" in result.stderr and "Traceback" not in result.stderr


def test_import_fim_writes_a_skeleton_that_validate_explains(tmp_path: Path) -> None:
    services = tmp_path / "services"
    result = run(
        "services", "import-fim", str(FIM / "G60000000088_anschrift_inland_xdf3.xml"),
        "--services", str(services), data_dir=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (services / "anschrift-inland" / "service.yaml").is_file()
    again = run(
        "services", "import-fim", str(FIM / "G60000000088_anschrift_inland_xdf3.xml"),
        "--services", str(services), data_dir=tmp_path,
    )  # fmt: skip
    assert again.returncode == 2 and "already exists" in again.stderr
    validated = run("services", "validate", str(services), data_dir=tmp_path)
    assert validated.returncode == 1
    assert "anschrift-inland/service.yaml:9 leika: unfinished: TODO" in validated.stderr


def test_dev_reload_swaps_valid_edits_and_shows_invalid_ones_on_healthz(tmp_path: Path) -> None:
    from backend.definitions.scaffold import scaffold_service
    from knopfdruck.app import create_app

    services = tmp_path / "services"
    scaffold_service(services, "probe")
    settings = Settings(
        data_dir=tmp_path / "data",
        services_dir=services,
        dev_reload=True,
        worker_in_process=False,
        _env_file=None,
    )
    app = create_app(settings)
    reloader = app.state.definition_reloader
    ctx = app.state.ctx
    client = TestClient(app)
    assert client.get("/healthz").json()["definitions"]["status"] == "ok"

    file = services / "probe" / "service.yaml"
    original = file.read_text(encoding="utf-8")
    stamp = file.stat().st_mtime_ns
    file.write_text(
        original.replace("en: Probe", "en: Probe (broken)").replace(
            "kind: eligibility", "kind: ermessen", 1
        )
    )
    os.utime(file, ns=(stamp + 10**9, stamp + 10**9))
    reloader.check()
    body = client.get("/healthz").json()
    assert body["status"] == "ok"
    assert body["definitions"]["status"] == "invalid, last valid version in use"
    assert any("unknown kind 'ermessen'" in p for p in body["definitions"]["problems"])
    assert ctx.catalogue.get("probe").title.en == "Probe"

    file.write_text(original.replace("en: Probe", "en: Probe, edited"))
    os.utime(file, ns=(stamp + 2 * 10**9, stamp + 2 * 10**9))
    reloader.check()
    assert ctx.catalogue.get("probe").title.en == "Probe, edited"
    assert client.get("/healthz").json()["definitions"]["problems"] == []
    ctx.close()


def test_healthz_says_nothing_about_definitions_without_dev_mode(tmp_path: Path) -> None:
    from knopfdruck.app import create_app

    settings = Settings(data_dir=tmp_path, worker_in_process=False, _env_file=None)
    app = create_app(settings)
    assert app.state.definition_reloader is None
    assert TestClient(app).get("/healthz").json() == {"status": "ok"}
    app.state.ctx.close()


def test_an_invalid_service_does_not_keep_the_others_from_being_tested(tmp_path: Path) -> None:
    services = tmp_path / "services"
    for slug in ("sondernutzung", "zweite"):
        created = run("services", "new", slug, "--services", str(services), data_dir=tmp_path)
        assert created.returncode == 0, created.stderr
        assert f"services test {slug} --services {services.as_posix()}" in created.stdout
    broken = services / "zweite" / "service.yaml"
    broken.write_text(
        broken.read_text(encoding="utf-8").replace("fields.exemplare >", "fields.exmplare >", 1),
        encoding="utf-8",
    )
    tested = run("services", "test", "--services", str(services), data_dir=tmp_path)
    assert tested.returncode == 1
    assert "unknown field 'exmplare'" in tested.stderr
    assert "SKIP  zweite: not tested, its definition is invalid" in tested.stdout
    assert ", 0 failed, " in tested.stdout
    assert "in 1 service(s), 1 invalid service(s) not tested" in tested.stdout
