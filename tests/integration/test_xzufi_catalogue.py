"""The XZuFi edge over real HTTP and from the command line: both give a message that passes
our XSD (the official XSD is not at hand; docs/standards/xzufi.md)."""

from __future__ import annotations

from pathlib import Path

from backend.definitions.xzufi import NS, problems
from backend.xmlsafe import parse
from tests.conftest import ROOT, Platform
from tests.integration.test_toolkit_cli import run as _run


def test_the_api_serves_the_catalogue_as_valid_xzufi(platform: Platform) -> None:
    with platform.client() as client:
        response = client.get("/api/v1/catalogue.xzufi.xml")
        services = client.get("/api/v1/services").json()
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    root = parse(response.content)
    assert problems(root) == []
    ids = root.xpath("//x:leistung/x:id/text()", namespaces={"x": NS})
    assert sorted(ids) == sorted(service["id"] for service in services)
    uris = root.xpath("//x:onlinedienst/x:link/x:uri/text()", namespaces={"x": NS})
    assert f"{platform.base_url}/services/meldebescheinigung" in uris


def test_the_cli_writes_a_valid_file_and_imports_it_back(tmp_path: Path) -> None:
    target = tmp_path / "katalog.xml"
    result = _run("catalogue", "export", "--format", "xzufi", "--output", str(target),
                  data_dir=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "services written to" in result.stdout
    assert problems(parse(target.read_bytes())) == []
    assert not target.with_name("katalog.xml.part").exists()
    services = tmp_path / "services"
    imported = _run("services", "import-xzufi", str(target), "--slug", "neu",
                    "--services", str(services), data_dir=tmp_path)  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    assert (services / "neu" / "service.yaml").is_file()
    validated = _run("services", "validate", str(services), data_dir=tmp_path)
    assert validated.returncode == 1 and "TODO" in validated.stderr


def test_the_cli_refuses_bad_input_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "kaputt.xml"
    bad.write_text('<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>', "utf-8")
    refused = _run("services", "import-xzufi", str(bad), "--stdout", data_dir=tmp_path)
    assert refused.returncode == 2
    assert "DTD" in refused.stderr and "Traceback" not in refused.stderr
    assert refused.stderr.count("\n") == 1
    wrong = _run("catalogue", "export", "--format", "xdomea", data_dir=tmp_path)
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr


def test_an_incomplete_service_is_a_503_that_names_it_never_a_500(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from backend.definitions.catalogue import Catalogue
    from backend.definitions.loader import LoadedDefinition
    from backend.settings import Settings
    from knopfdruck.app import create_app

    settings = Settings(
        data_dir=tmp_path / "data",
        services_dir=ROOT / "services",
        worker_in_process=False,
        _env_file=None,
    )
    app = create_app(settings)
    ctx = app.state.ctx
    try:
        good = ctx.catalogue.get("kindergeld")
        # A definition the loader would refuse, as one edited in place might look.
        broken = ctx.catalogue.get("meldebescheinigung").model_copy(update={"leika": "123"})
        ctx.catalogue = Catalogue(
            [
                LoadedDefinition(good, ROOT / "services/kindergeld/service.yaml"),
                LoadedDefinition(broken, ROOT / "services/meldebescheinigung/service.yaml"),
            ]
        )
        # No lifespan: the route needs no database, so none is migrated here.
        client = TestClient(app, raise_server_exceptions=False)
        response = client.get("/api/v1/catalogue.xzufi.xml")
        assert response.status_code == 503
        assert "meldebescheinigung" in response.text and "LeiKa" in response.text
    finally:
        ctx.close()
