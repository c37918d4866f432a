"""Issue 14, item 7: production is the default. The sandbox runs only when explicitly enabled
(./scripts/run does, for the local demo), is never reachable from outside by accident, a process
without an identity provider refuses to start, and every page says when test identities can log in.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from backend.settings import Settings
from knopfdruck.cli import startup_refusal
from tests.conftest import Platform
from tests.livesrv import free_port, serve_in_thread
from tests.security.webkit import browser_login

ROOT = Path(__file__).resolve().parents[2]


def test_the_sandbox_on_a_public_address_is_refused_unless_loudly_allowed() -> None:
    public = Settings(sandbox=True, base_url="https://portal.example-stadt.de")
    refusal = startup_refusal(public)
    assert refusal and "KNOPFDRUCK_SANDBOX_ALLOW_PUBLIC_HOST_INSECURE" in refusal
    allowed = Settings(
        sandbox=True,
        base_url="https://test.example-stadt.de",
        sandbox_allow_public_host_insecure=True,
    )
    assert startup_refusal(allowed) is None
    # Listening on every interface exposes it as much as a public URL does.
    local = Settings(sandbox=True, base_url="http://127.0.0.1:8000")
    assert startup_refusal(local, host="0.0.0.0")
    assert startup_refusal(local, host="127.0.0.1") is None


def test_no_identity_provider_is_refused_with_what_to_set() -> None:
    bare = Settings(sandbox=False, base_url="https://portal.example-stadt.de")
    refusal = startup_refusal(bare, host="0.0.0.0")
    assert refusal and "KNOPFDRUCK_OIDC_ISSUER" in refusal
    real = Settings(
        sandbox=False,
        base_url="https://portal.example-stadt.de",
        oidc_issuer="https://id.example-stadt.de/realms/buerger",
    )
    assert startup_refusal(real, host="0.0.0.0") is None


@pytest.mark.parametrize(
    "env",
    [
        {"KNOPFDRUCK_SANDBOX": "true"},  # the sandbox on all interfaces
        {"KNOPFDRUCK_SANDBOX": "false"},  # production without an identity provider
    ],
)
def test_serve_refuses_to_start_with_one_line(tmp_path: Path, env: dict[str, str]) -> None:
    """Before, `serve --host 0.0.0.0` started with the sandbox IdP trusted: anyone on the
    network could take a supervisor's token from /sandbox/idp/token."""
    full = {**os.environ, "KNOPFDRUCK_DATA_DIR": str(tmp_path / "var"), **env}
    for name in ("KNOPFDRUCK_BASE_URL", "KNOPFDRUCK_OIDC_ISSUER", "KNOPFDRUCK_DATABASE_URL"):
        full.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-m", "knopfdruck.cli", "serve", "--host", "0.0.0.0",
         "--port", str(free_port())],
        cwd=ROOT, env=full, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("knopfdruck:")]
    assert len(lines) == 1 and "refusing to start" in lines[0], done.stderr
    assert "Traceback" not in done.stderr


def _without_knopfdruck_variables(tmp_path: Path) -> dict[str, str]:
    """The environment of a new machine: nothing of ours is set, only a throw-away data folder."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("KNOPFDRUCK_")}
    env["HOME"] = str(tmp_path)
    env["PYTHONPATH"] = str(ROOT)  # this checkout's code, run from an empty folder
    return env


def test_serve_with_no_configuration_refuses_and_says_what_to_set(tmp_path: Path) -> None:
    """Before, a bare `knopfdruck serve` started with the sandbox IdP trusted: anyone reaching
    the port could take any persona's token, a supervisor's included."""
    done = subprocess.run(
        [sys.executable, "-m", "knopfdruck.cli", "serve", "--port", str(free_port())],
        cwd=tmp_path, env=_without_knopfdruck_variables(tmp_path),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("knopfdruck: refusing to start: no identity provider")
    assert "KNOPFDRUCK_OIDC_ISSUER" in lines[0] and "KNOPFDRUCK_SANDBOX=true" in lines[0]
    assert not (tmp_path / "var").exists(), "it refused before creating the database"


SANDBOX_ROUTES = (
    ("POST", "/sandbox/idp/token"),
    ("GET", "/sandbox/idp/.well-known/openid-configuration"),
    ("GET", "/sandbox/idp/jwks"),
    ("GET", "/sandbox/registries/healthz"),
    ("POST", "/sandbox/payments/api/payments"),
    ("POST", "/sandbox/fitconnect/token"),
)


def test_default_settings_have_no_sandbox_and_mount_none(
    tmp_path: Path, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sandbox's routes (anyone gets any token) exist only when it is enabled explicitly."""
    from fastapi.testclient import TestClient

    from knopfdruck.app import create_app

    for name in [name for name in os.environ if name.startswith("KNOPFDRUCK_")]:
        monkeypatch.delenv(name)
    default = Settings()
    assert default.sandbox is False
    settings = default.model_copy(
        update={"data_dir": tmp_path, "database_url": f"sqlite:///{tmp_path / 'kd.db'}",
                "worker_in_process": False, "services_dir": ROOT / "services"}
    )  # fmt: skip
    app = create_app(settings)
    try:
        client = TestClient(app)
        assert client.get("/healthz").status_code == 200
        for method, path in SANDBOX_ROUTES:
            answer = client.request(method, path, data={"persona": "supervisor-buergeramt"})
            assert answer.status_code == 404, (path, answer.status_code)
        assert 'class="sandbox-banner"' not in client.get("/").text
    finally:
        app.state.ctx.close()
    for method, path in SANDBOX_ROUTES:  # the same requests do reach a sandbox turned on
        answer = httpx.request(method, platform.base_url + path, timeout=30)
        assert answer.status_code != 404, (path, answer.status_code)


def test_the_demo_script_enables_the_sandbox_and_says_so() -> None:
    script = (ROOT / "scripts/run").read_text()
    assert 'export KNOPFDRUCK_SANDBOX="${KNOPFDRUCK_SANDBOX:-true}"' in script
    assert "demo sandbox on" in script and "never for production" in script


def test_the_image_defaults_to_production() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "KNOPFDRUCK_SANDBOX=false" in dockerfile


@pytest.fixture(scope="module")
def without_sandbox(platform: Platform) -> Iterator[str]:
    """A web process of the same installation with the sandbox off (the platform's IdP)."""
    from knopfdruck.app import create_app

    port = free_port()
    settings = platform.settings.model_copy(
        update={"base_url": f"http://127.0.0.1:{port}", "worker_in_process": False,
                "sandbox": False}
    )  # fmt: skip
    with serve_in_thread(create_app(settings), port) as base:
        yield base


def test_every_page_says_when_the_sandbox_is_on(platform: Platform, without_sandbox: str) -> None:
    for path in ("/", "/services/meldebescheinigung", "/does-not-exist"):
        on = httpx.get(f"{platform.base_url}{path}", timeout=30)
        assert 'class="sandbox-banner"' in on.text, path
    clerk = browser_login(platform, "supervisor-buergeramt")
    try:
        console = clerk.get("/console/")
    finally:
        clerk.close()
    assert console.status_code == 200
    assert 'class="sandbox-banner"' in console.text
    english = httpx.get(f"{platform.base_url}/", cookies={"kd_lang": "en"}, timeout=30)
    assert "Test system" in english.text or 'class="sandbox-banner"' in english.text
    off = httpx.get(f"{without_sandbox}/", timeout=30)
    assert off.status_code == 200
    assert "sandbox-banner" not in off.text
    assert httpx.get(f"{without_sandbox}/sandbox/idp/jwks", timeout=30).status_code == 404
