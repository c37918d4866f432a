"""The CLI as an integrator meets it: precise errors, exit codes, and never a traceback."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.livesrv import process_env

FIXTURES = ROOT / "tests" / "unit" / "fixtures" / "definitions"


def run(
    *args: str, env: dict[str, str] | None = None, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "knopfdruck.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=process_env(**(env or {})),
    )


def test_validate_accepts_the_shipped_services() -> None:
    result = run("services", "validate", "services/")
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout
    assert "warning" not in result.stdout + result.stderr


def test_validate_warns_about_a_written_back_field_without_a_length_limit(tmp_path: Path) -> None:
    """Issue 14, item 4: a warning with file, line and path; the exit code stays 0."""
    folder = tmp_path / "hundeanmeldung"
    shutil.copytree(ROOT / "tests" / "fixtures" / "services" / "hundeanmeldung", folder)
    file = folder / "service.yaml"
    # Not a plain copy, so the register's limit for hundename does not reach the field.
    text = file.read_text(encoding="utf-8").replace(
        'hundename: "fields.hundename"', 'hundename: "string(fields.hundename)"'
    )
    file.write_text(text, encoding="utf-8")
    line = text.splitlines().index('      hundename: "string(fields.hundename)"') + 1

    result = run("services", "validate", str(folder))

    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        f"{file.as_posix()}:{line} writeback[0].record.hundename: warning: field 'hundename' is "
        "written to the register but has no length limit from the definition or the register; "
        "declare max_length"
    ]
    assert result.stdout.strip() == f"{folder}: all service definitions are valid, 1 warning(s)"


def test_validate_names_file_line_and_path_for_an_unknown_attribute() -> None:
    result = run("services", "validate", str(FIXTURES / "invalid" / "unknown-attribute"))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "fields[" in result.stderr and ".source.attribute: unknown attribute" in result.stderr
    first = result.stderr.splitlines()[0]
    path, line = first.split(" ")[0].rsplit(":", 1)
    assert path.endswith("service.yaml") and line.isdigit()


def test_validate_reports_malformed_yaml_with_its_line() -> None:
    result = run("services", "validate", str(FIXTURES / "invalid" / "bad-yaml"))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "service.yaml:" in result.stderr


def test_validate_of_a_missing_path_is_a_clear_error() -> None:
    result = run("services", "validate", "no/such/dir")
    assert result.returncode == 2
    assert "no such file or directory" in result.stderr and "Traceback" not in result.stderr


def test_schema_is_json_schema() -> None:
    result = run("services", "schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert "fields" in schema["properties"]


def test_serve_refuses_to_start_on_an_invalid_definition(tmp_path: Path) -> None:
    services = tmp_path / "services"
    shutil.copytree(ROOT / "services", services)
    yaml_file = services / "meldebescheinigung" / "service.yaml"
    yaml_file.write_text(
        yaml_file.read_text(encoding="utf-8").replace(
            "attribute: anschrift.plz", "attribute: adresse.plz"
        ),
        encoding="utf-8",
    )
    result = run(
        "serve",
        "--port",
        "1",
        env={
            "KNOPFDRUCK_SERVICES_DIR": str(services),
            "KNOPFDRUCK_DATA_DIR": str(tmp_path / "var"),
        },
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "service.yaml:" in result.stderr
    assert "unknown attribute 'adresse.plz' of connector 'melderegister'" in result.stderr
    assert "refusing to start" in result.stderr


def test_db_upgrade_twice_and_unreachable_database(tmp_path: Path) -> None:
    env = {"KNOPFDRUCK_DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}"}
    assert run("db", "upgrade", env=env).returncode == 0
    assert run("db", "upgrade", env=env).returncode == 0
    bad = run(
        "db", "upgrade", env={"KNOPFDRUCK_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    )
    assert bad.returncode == 1
    assert "cannot reach the database" in bad.stderr and "Traceback" not in bad.stderr


def test_audit_verify_on_an_empty_database(tmp_path: Path) -> None:
    env = {"KNOPFDRUCK_DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}"}
    assert run("db", "upgrade", env=env).returncode == 0
    result = run("audit", "verify", env=env)
    assert result.returncode == 0 and "0 broken" in result.stdout


def _kita_service(services: Path) -> None:
    """A copy of the Meldebescheinigung that also reads from the configured Kita portal."""
    shutil.copytree(ROOT / "services" / "meldebescheinigung", services / "meldebescheinigung")
    yaml_file = services / "meldebescheinigung" / "service.yaml"
    text = yaml_file.read_text(encoding="utf-8")
    held = "source: { <<: *melde, attribute: anschrift.plz }"
    assert held in text
    kita = "source: { <<: *melde, connector: kita-portal, attribute: einrichtung }"
    yaml_file.write_text(text.replace(held, kita), encoding="utf-8")


def test_configured_registries_are_read_by_validate_and_serve(tmp_path: Path) -> None:
    services = tmp_path / "services"
    services.mkdir()
    _kita_service(services)
    registries = tmp_path / "registries"
    registries.mkdir()
    env = {
        "KNOPFDRUCK_SERVICES_DIR": str(services),
        "KNOPFDRUCK_REGISTRIES_DIR": str(registries),
        "KNOPFDRUCK_DATA_DIR": str(tmp_path / "var"),
    }
    unknown = run("services", "validate", env=env)
    assert unknown.returncode == 1
    assert "unknown connector 'kita-portal'" in unknown.stderr

    shutil.copy(ROOT / "registries" / "examples" / "kita-portal.yaml", registries)
    known = run("services", "validate", env=env)
    assert known.returncode == 0, known.stderr

    # The portal needs a bearer token from the environment: without it, serve refuses to start
    # instead of failing at the first citizen's read.
    no_secret = run("serve", "--port", "1", env={**env, "KNOPFDRUCK_KITA_PORTAL_TOKEN": ""})
    assert no_secret.returncode == 2
    assert "Traceback" not in no_secret.stderr
    assert "KNOPFDRUCK_KITA_PORTAL_TOKEN is not set" in no_secret.stderr


def test_serve_on_another_port_serves_the_sandbox_under_that_port(tmp_path: Path) -> None:
    """`./scripts/run --port N` without KNOPFDRUCK_BASE_URL: the sandbox IdP, the registries and
    every link must name port N, or the first login and the first prefill fail."""
    import time

    import httpx

    from tests.livesrv import free_port

    port = free_port()
    env = process_env(KNOPFDRUCK_DATA_DIR=str(tmp_path / "var"))  # the sandbox on, as scripts/run
    env.pop("KNOPFDRUCK_BASE_URL", None)
    env.pop("KNOPFDRUCK_DATABASE_URL", None)
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "knopfdruck.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.3)
        discovery = httpx.get(f"{base}/sandbox/idp/.well-known/openid-configuration").json()
        assert discovery["issuer"] == f"{base}/sandbox/idp"
        token = httpx.post(f"{base}/sandbox/idp/token", data={"persona": "erika"}).json()
        started = httpx.post(
            f"{base}/api/v1/applications",
            json={"service": "meldebescheinigung"},
            headers={"Authorization": f"Bearer {token['access_token']}"},
            timeout=30,
        )
        assert started.status_code == 201, started.text
        fields = {f["id"]: f for f in started.json()["fields"]}
        assert fields["familienname"]["value"] == "Mustermann"
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


@pytest.mark.parametrize("given", ["0", "-3", "four", "5000"])
def test_a_worker_refuses_a_concurrency_that_would_take_no_case(given: str) -> None:
    """0 or less made a worker that claimed nothing, silently (issue 22): now a usage error."""
    result = run("worker", "--concurrency", given)
    assert result.returncode == 2
    assert "--concurrency" in result.stderr and "Traceback" not in result.stderr
