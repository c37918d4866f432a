"""Registry configuration files: one YAML per registry in a folder (``registries/`` by default).

A file either configures a shipped connector (base URL, timeouts, credentials) or, with a
``rest:`` section, adds a registry through the generic REST connector, without Python.
Secrets never sit in the files: a file names the environment variable that holds them.
Format and examples: docs/prefill.md.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from prefill.connectors.base import ConnectorConfig
from prefill.connectors.registry import ConnectorRegistry
from prefill.connectors.rest import ConnectorId, RestDefinition, rest_connector


class RegistryConfigError(ValueError):
    """A registry file that cannot be used; the message names file, line and key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AuthConfig(_Strict):
    """How Knopfdruck authenticates at the registry; the secret comes from the environment."""

    type: Literal["none", "bearer", "api_key", "basic"] = "none"
    header: str = Field("X-API-Key", description="Header that carries an api_key.")
    username: str | None = Field(None, description="User name for basic auth.")
    secret_env: str | None = Field(
        None, description="Environment variable holding the token, key or password."
    )


class DeploymentConfig(_Strict):
    """Where and how patiently to reach the registry; unset values keep the defaults."""

    base_url: str = Field("", description="Empty: the platform's registry base URL.")
    timeout_s: float | None = Field(None, gt=0)
    retries: int | None = Field(None, ge=0, le=5)
    backoff_s: float | None = Field(None, ge=0)
    deadline_s: float | None = Field(None, gt=0)
    circuit_failures: int | None = Field(None, ge=1)
    circuit_open_s: float | None = Field(None, gt=0)
    auth: AuthConfig = Field(default_factory=AuthConfig)


class RegistryFile(_Strict):
    """One file of the registries folder."""

    id: ConnectorId
    rest: RestDefinition | None = None
    config: DeploymentConfig = Field(default_factory=DeploymentConfig)


@dataclass(frozen=True)
class LoadedFile:
    path: Path
    content: RegistryFile


def load_registry_files(config_dir: Path) -> list[LoadedFile]:
    """Every ``*.yaml`` in the folder, checked; a missing folder means none."""
    if not config_dir.is_dir():
        return []
    loaded: list[LoadedFile] = []
    seen: dict[str, Path] = {}
    for path in sorted([*config_dir.glob("*.yaml"), *config_dir.glob("*.yml")]):
        content = _load_file(path)
        if content.id != path.stem:
            raise RegistryConfigError(
                f"{path}: id '{content.id}' does not match the file name '{path.stem}'"
            )
        if content.id in seen:
            raise RegistryConfigError(f"{path}: id '{content.id}' also in {seen[content.id]}")
        seen[content.id] = path
        loaded.append(LoadedFile(path, content))
    return loaded


def _load_file(path: Path) -> RegistryFile:
    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise RegistryConfigError(f"{path}{line}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise RegistryConfigError(f"{path}: expected a mapping with 'id' at the top")
    try:
        return RegistryFile.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            where = ".".join(str(p) for p in loc) or "(top)"
            message = str(error["msg"]).removeprefix("Value error, ")
            problems.append(f"{path}:{_line(node, loc)} {where}: {message}")
        raise RegistryConfigError("\n".join(problems)) from None


def _line(node: yaml.Node | None, loc: tuple[Any, ...]) -> int:
    """Line of the deepest YAML node the error location reaches (1-based)."""
    line = node.start_mark.line + 1 if node is not None else 1
    for step in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == step), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int):
            match = node.value[step] if step < len(node.value) else None
        else:
            match = None
        if match is None:
            break
        node = match
        line = node.start_mark.line + 1
    return line


def add_configured_connectors(registry: ConnectorRegistry, config_dir: Path) -> None:
    """Register the folder's REST connectors; a file for an unknown shipped one is an error."""
    files = load_registry_files(config_dir)
    for loaded in files:
        if loaded.content.rest is None:
            continue
        try:
            registry.register(rest_connector(loaded.content.id, loaded.content.rest))
        except ValueError:
            raise RegistryConfigError(
                f"{loaded.path}: connector id '{loaded.content.id}' is already taken by a "
                "shipped connector; configure that one without a 'rest:' section, or pick "
                "another id"
            ) from None
    for loaded in files:
        if loaded.content.rest is None and loaded.content.id not in registry:
            raise RegistryConfigError(
                f"{loaded.path}: no connector '{loaded.content.id}' is shipped (known: "
                f"{', '.join(registry)}); add a 'rest:' section to define a generic one"
            )


def registry_configs(
    registry: ConnectorRegistry,
    *,
    default_base_url: str,
    default_timeout_s: float,
    config_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, ConnectorConfig]:
    """The configuration of every registered connector: defaults, overridden per file."""
    env = os.environ if environ is None else environ
    files = {f.content.id: f for f in load_registry_files(config_dir)} if config_dir else {}
    configs: dict[str, ConnectorConfig] = {}
    for connector_id in registry:
        loaded = files.get(connector_id)
        deployment = loaded.content.config if loaded else DeploymentConfig()
        values: dict[str, Any] = {
            "base_url": (deployment.base_url or default_base_url).rstrip("/"),
            "timeout_s": default_timeout_s,
        }
        for name in (
            "timeout_s",
            "retries",
            "backoff_s",
            "deadline_s",
            "circuit_failures",
            "circuit_open_s",
        ):
            value = getattr(deployment, name)
            if value is not None:
                values[name] = value
        where = str(loaded.path) if loaded else connector_id
        values["auth_headers"] = _auth_headers(deployment.auth, env, where)
        configs[connector_id] = ConnectorConfig(**values)
    return configs


def _auth_headers(auth: AuthConfig, env: Mapping[str, str], where: str) -> dict[str, SecretStr]:
    if auth.type == "none":
        return {}
    if not auth.secret_env:
        raise RegistryConfigError(f"{where}: auth type '{auth.type}' needs secret_env")
    secret = env.get(auth.secret_env, "")
    if not secret:
        # Fail at start-up, not at the first citizen's read.
        raise RegistryConfigError(
            f"{where}: environment variable {auth.secret_env} is not set or empty"
        )
    if auth.type == "bearer":
        return {"Authorization": SecretStr(f"Bearer {secret}")}
    if auth.type == "api_key":
        return {auth.header: SecretStr(secret)}
    if not auth.username:
        raise RegistryConfigError(f"{where}: basic auth needs a username")
    token = base64.b64encode(f"{auth.username}:{secret}".encode()).decode("ascii")
    return {"Authorization": SecretStr(f"Basic {token}")}


def build_default_registry(
    *extra: Callable[[ConnectorRegistry], None], config_dir: Path | None = None
) -> ConnectorRegistry:
    """The registry with every connector shipped with Knopfdruck, plus the generic REST
    connectors configured in config_dir (see prefill.configuration; None: none)."""
    from prefill.connectors import (
        dogtax_register,
        einkommensregister,
        geodaten,
        gewerberegister,
        hochschulregister,
        kfz_zulassungsregister,
        melderegister,
        permit_register,
        personenstandsregister,
    )

    registry = ConnectorRegistry()
    registry.register(melderegister.MelderegisterConnector)
    registry.register(personenstandsregister.PersonenstandsregisterConnector)
    registry.register(kfz_zulassungsregister.KfzZulassungsregisterConnector)
    registry.register(gewerberegister.GewerberegisterConnector)
    registry.register(einkommensregister.EinkommensregisterConnector)
    registry.register(hochschulregister.HochschulregisterConnector)
    registry.register(geodaten.GeodatenConnector)
    registry.register(permit_register.PermitRegisterConnector)
    registry.register(dogtax_register.DogTaxRegisterConnector)
    for add in extra:
        add(registry)
    if config_dir is not None:
        add_configured_connectors(registry, config_dir)
    return registry
