"""Registry files: generic REST connectors and per-registry settings from YAML, checked early."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from backend.definitions.loader import validate_tree
from prefill.configuration import (
    RegistryConfigError,
    build_default_registry,
    load_registry_files,
    registry_configs,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "registries" / "examples" / "kita-portal.yaml"

HOCHSCHULE_REST = """\
id: hochschule-rest
rest:
  title: Hochschulregister über REST
  request:
    path: /hochschulregister/v1/studierende/abfrage
    body: {idnr: "{identifier}", attribute: "{attributes}"}
  response: {record_id: record_id, as_of: stand, authority: behoerde}
  attributes:
    - {name: immatrikuliert, type: boolean, path: attribute.immatrikuliert}
    - {name: hochschule, type: string, path: attribute.hochschule}
config:
  timeout_s: 2.5
"""


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_missing_folder_configures_nothing(tmp_path: Path) -> None:
    assert load_registry_files(tmp_path / "nowhere") == []
    assert set(build_default_registry(config_dir=tmp_path / "nowhere")) == set(
        build_default_registry()
    )


def test_the_shipped_example_is_a_valid_connector(tmp_path: Path) -> None:
    shutil.copy(EXAMPLE, tmp_path / "kita-portal.yaml")
    registry = build_default_registry(config_dir=tmp_path)
    connector = registry.get("kita-portal")
    assert connector.title == "Kita-Portal der Stadt Köln"
    assert set(connector.available_attributes()) == {
        "einrichtung",
        "umfang",
        "seit",
        "beitrag",
        "weitere_kinder",
    }
    configs = registry_configs(
        registry,
        default_base_url="http://sandbox/registries",
        default_timeout_s=5.0,
        config_dir=tmp_path,
        environ={"KNOPFDRUCK_KITA_PORTAL_TOKEN": "t0k3n"},
    )
    kita = configs["kita-portal"]
    assert (kita.base_url, kita.timeout_s, kita.retries) == ("https://kita.example.invalid", 3, 1)
    assert kita.auth_headers["Authorization"].get_secret_value() == "Bearer t0k3n"
    assert configs["melderegister"].base_url == "http://sandbox/registries"
    assert configs["melderegister"].auth_headers == {}


def test_a_shipped_connector_gets_its_settings_from_its_file(tmp_path: Path) -> None:
    write(
        tmp_path,
        "melderegister.yaml",
        "id: melderegister\n"
        "config:\n"
        "  base_url: https://melde.example.invalid/api/\n"
        "  timeout_s: 1.5\n  retries: 0\n  deadline_s: 2\n"
        "  circuit_failures: 3\n  circuit_open_s: 10\n"
        "  auth: {type: api_key, header: X-Api-Key, secret_env: MELDE_KEY}\n",
    )
    registry = build_default_registry(config_dir=tmp_path)
    config = registry_configs(
        registry,
        default_base_url="http://default",
        default_timeout_s=5.0,
        config_dir=tmp_path,
        environ={"MELDE_KEY": "k"},
    )["melderegister"]
    assert config.base_url == "https://melde.example.invalid/api"
    assert (config.timeout_s, config.retries, config.read_deadline_s) == (1.5, 0, 2)
    assert (config.circuit_failures, config.circuit_open_s) == (3, 10)
    assert config.auth_headers["X-Api-Key"].get_secret_value() == "k"


def test_basic_auth_is_encoded(tmp_path: Path) -> None:
    write(
        tmp_path,
        "gewerberegister.yaml",
        "id: gewerberegister\n"
        "config: {auth: {type: basic, username: knopfdruck, secret_env: GEWERBE_PW}}\n",
    )
    registry = build_default_registry(config_dir=tmp_path)
    config = registry_configs(
        registry,
        default_base_url="http://default",
        default_timeout_s=5.0,
        config_dir=tmp_path,
        environ={"GEWERBE_PW": "geheim"},
    )["gewerberegister"]
    assert config.auth_headers["Authorization"].get_secret_value() == (
        "Basic a25vcGZkcnVjazpnZWhlaW0="
    )


def test_a_missing_secret_stops_the_start_with_the_variable_named(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "melderegister.yaml",
        "id: melderegister\nconfig: {auth: {type: bearer, secret_env: MELDE_TOKEN}}\n",
    )
    registry = build_default_registry(config_dir=tmp_path)
    with pytest.raises(RegistryConfigError, match=f"{path}: environment variable MELDE_TOKEN"):
        registry_configs(
            registry,
            default_base_url="http://d",
            default_timeout_s=5,
            config_dir=tmp_path,
            environ={},
        )


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("broken.yaml", "id: broken\nrest: [\n", r"broken\.yaml:\d+: not valid YAML"),
        ("list.yaml", "- id: list\n", "expected a mapping"),
        ("other.yaml", "id: kita\n", "does not match the file name 'other'"),
        (
            "kita.yaml",
            "id: kita\nrest:\n  title: Kita\n  request: {path: /x}\n  attributes:\n"
            "    - {name: a, type: string, path: a, colour: blue}\n",
            r"kita\.yaml:6 rest\.attributes\.0\.colour: Extra inputs are not permitted",
        ),
        (
            "kita.yaml",
            "id: kita\nrest:\n  title: Kita\n  request: {path: '/x/{idnr}'}\n"
            "  attributes: [{name: a, type: string, path: a}]\n",
            r"kita\.yaml:3 rest: unknown placeholder \{idnr\} in request\.path",
        ),
        (
            "melderegister.yaml",
            "id: melderegister\nrest:\n  title: M\n  request: {path: /x}\n"
            "  attributes: [{name: a, type: string, path: a}]\n",
            "already taken by a shipped connector",
        ),
        ("ghost.yaml", "id: ghost\nconfig: {timeout_s: 1}\n", "no connector 'ghost' is shipped"),
        (
            "melderegister.yaml",
            "id: melderegister\nconfig: {timeout_s: -1}\n",
            r"melderegister\.yaml:2 config\.timeout_s: Input should be greater than 0",
        ),
    ],
)
def test_a_broken_file_is_refused_with_file_line_and_key(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    write(tmp_path, name, text)
    with pytest.raises(RegistryConfigError, match=message):
        build_default_registry(config_dir=tmp_path)


def test_the_definition_loader_checks_services_against_configured_connectors(
    tmp_path: Path,
) -> None:
    """An integrator's registry is held to the same rule as a shipped one: declared only."""
    registries = tmp_path / "registries"
    write(registries, "hochschule-rest.yaml", HOCHSCHULE_REST)
    services = tmp_path / "services"
    shutil.copytree(ROOT / "services" / "meldebescheinigung", services / "meldebescheinigung")
    definition = services / "meldebescheinigung" / "service.yaml"
    original = definition.read_text(encoding="utf-8")

    def with_field(attribute: str) -> None:
        field = (
            "  - id: studierend\n"
            "    type: boolean\n"
            "    label: { de: Studierend, en: Student }\n"
            "    required: false\n"
            "    source:\n"
            "      connector: hochschule-rest\n"
            f"      attribute: {attribute}\n"
            "      purpose: Test\n"
            "      legal_basis: Test\n"
        )
        definition.write_text(original.replace("\nrules:", f"\n{field}\nrules:", 1), "utf-8")

    with_field("immatrikuliert")
    assert validate_tree(services, build_default_registry()) != []
    assert validate_tree(services, build_default_registry(config_dir=registries)) == []

    with_field("religion")
    problems = validate_tree(services, build_default_registry(config_dir=registries))
    assert len(problems) == 1
    assert "unknown attribute 'religion' of connector 'hochschule-rest'" in problems[0]
