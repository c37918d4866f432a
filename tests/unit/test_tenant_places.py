"""Tenants at run time (issue 13): their URL space, the home tenant, and department keys that
carry the tenant into every filter by department."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from backend.auth.tokens import _identity_from
from backend.context import connectors_for
from backend.definitions.loader import LoadedDefinition, load_tree
from backend.errors import NotFound, Unauthorized
from backend.settings import Settings
from backend.tenants.loader import Tenancy, load_tenants
from backend.tenants.models import RESERVED_IDS
from prefill.connectors.registry import ConnectorRegistry

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def connectors() -> ConnectorRegistry:
    return connectors_for(Settings(registries_dir=ROOT / "registries"))


@pytest.fixture(scope="module")
def templates(connectors: ConnectorRegistry) -> list[LoadedDefinition]:
    loaded, problems = load_tree(ROOT / "services", connectors)
    assert problems == []
    return loaded


@pytest.fixture(scope="module")
def tenancy(templates: list[LoadedDefinition], connectors: ConnectorRegistry) -> Tenancy:
    loaded, problems = load_tenants(ROOT / "tenants", templates, connectors)
    assert problems == []
    return loaded


def _first_segments(routes: list[Any]) -> set[str]:
    """The first path segment of every route, through included routers and mounts."""
    found: set[str] = set()
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            prefix = getattr(getattr(route, "include_context", None), "prefix", "") or ""
            found |= {
                (prefix.strip("/").split("/")[0] or segment)
                for segment in _first_segments(inner.routes)
            }
            continue
        segment = str(getattr(route, "path", "")).strip("/").split("/")[0]
        if segment and not segment.startswith("{"):
            found.add(segment)
    return found


def test_no_tenant_can_take_a_path_of_the_portal(tmp_path: Path) -> None:
    from knopfdruck.app import create_app

    app = create_app(
        Settings(sandbox=True, data_dir=tmp_path, worker_in_process=False, _env_file=None)
    )
    segments = _first_segments(list(app.router.routes)) - {"openapi.json", ".well-known"}
    assert len(segments) > 20, f"the route walk found too little: {sorted(segments)}"
    assert segments - RESERVED_IDS == set(), "add these to RESERVED_IDS"


def test_a_tenant_named_like_a_portal_path_is_refused(
    tmp_path: Path, templates: list[LoadedDefinition], connectors: ConnectorRegistry
) -> None:
    tenants = tmp_path / "tenants"
    shutil.copytree(ROOT / "tenants" / "neuenhaus", tenants / "services")
    shutil.rmtree(tenants / "services" / "services")
    shutil.rmtree(tenants / "services" / "tests", ignore_errors=True)
    file = tenants / "services" / "tenant.yaml"
    file.write_text(
        file.read_text(encoding="utf-8").replace("id: neuenhaus", "id: services"), "utf-8"
    )

    tenancy, problems = load_tenants(tenants, templates, connectors)

    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{file.as_posix()}:")
    assert "id 'services' is a path of the portal itself" in problems[0]
    assert tenancy.tenants == {}


def test_at_most_one_tenant_is_home(
    tmp_path: Path, templates: list[LoadedDefinition], connectors: ConnectorRegistry
) -> None:
    tenants = tmp_path / "tenants"
    shutil.copytree(ROOT / "tenants", tenants)
    file = tenants / "neuenhaus" / "tenant.yaml"
    file.write_text(
        file.read_text(encoding="utf-8").replace("id: neuenhaus\n", "id: neuenhaus\nhome: true\n"),
        "utf-8",
    )

    tenancy, problems = load_tenants(tenants, templates, connectors)

    # Folders load in name order: Köln is home first, Neuenhaus's claim is the problem.
    line = file.read_text(encoding="utf-8").splitlines().index("home: true") + 1
    assert problems == [
        f"{file.as_posix()}:{line} home: 'koeln' is already the home tenant (at most one)"
    ]
    assert tenancy.home is not None and tenancy.home.id == "koeln"
    assert "neuenhaus" not in tenancy.tenants


def test_department_keys_carry_the_tenant_except_the_home_tenants(tenancy: Tenancy) -> None:
    koeln = tenancy.catalogue_of("koeln").get("anwohnerparkausweis")
    bergheim = tenancy.catalogue_of("bergheim").get("anwohnerparkausweis")
    assert koeln.department == "strassenverkehrsamt"
    assert bergheim.department == "bergheim.strassenverkehrsamt"
    by_key = tenancy.by_department("bergheim.strassenverkehrsamt")
    assert by_key is not None and by_key.id == "bergheim"
    home = tenancy.by_department("strassenverkehrsamt")
    assert home is not None and home.id == "koeln"
    assert tenancy.by_department("atlantis.strassenverkehrsamt") is None
    with pytest.raises(NotFound):
        tenancy.catalogue_of("atlantis")
    # One catalogue per tenant, made once for the loaded tenancy.
    assert tenancy.catalogue_of("bergheim") is tenancy.catalogue_of("bergheim")


CLERK = {"sub": "c-1", "name": "Jörg Esser", "trust_level": "substanziell", "roles": ["clerk"]}


def test_a_clerk_of_another_tenant_gets_a_department_key_with_the_tenant() -> None:
    home = _identity_from({**CLERK, "department": "strassenverkehrsamt"})
    other = _identity_from({**CLERK, "department": "strassenverkehrsamt", "tenant": "bergheim"})
    assert home.department == "strassenverkehrsamt"
    assert other.department == "bergheim.strassenverkehrsamt"
    # A citizen's token may not make itself a clerk by naming a tenant.
    citizen = _identity_from({**CLERK, "roles": [], "tenant": "bergheim"})
    assert citizen.department is None and not citizen.is_clerk


@pytest.mark.parametrize(
    "claims",
    [
        {"department": "bergheim.strassenverkehrsamt"},  # a key is made here, never sent
        {"department": "strassenverkehrsamt", "tenant": ""},
        {"department": "strassenverkehrsamt", "tenant": 7},
    ],
    ids=["dotted-department", "empty-tenant", "tenant-not-text"],
)
def test_a_malformed_department_or_tenant_claim_is_refused(claims: dict[str, Any]) -> None:
    with pytest.raises(Unauthorized):
        _identity_from({**CLERK, **claims})
