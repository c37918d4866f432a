"""The published FIT-Connect schemas, checked with a validator independent of the platform's."""

from __future__ import annotations

import json
import re
import uuid
from functools import lru_cache
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import yaml

from backend.handover.credentials import sandbox_fitconnect
from backend.settings import Settings

STANDARDS = Path(__file__).parent / "fixtures" / "standards" / "fit-connect"


@lru_cache(maxsize=1)
def _metadata_validator() -> Any:
    schema = json.loads((STANDARDS / "metadata.schema.v1.0.0.json").read_text(encoding="utf-8"))
    return jsonschema_rs.Draft202012Validator(schema, validate_formats=True)


def official_metadata_errors(metadata: Any) -> list[str]:
    """What the official metadata schema says is wrong; empty when the metadata is valid."""
    return [
        f"{list(e.instance_path)}: {e.message}" for e in _metadata_validator().iter_errors(metadata)
    ]


@lru_cache(maxsize=1)
def submission_api() -> dict[str, Any]:
    """The Submission API OpenAPI 1.1.3 (the test fixture, not the sandbox's copy)."""
    loaded: dict[str, Any] = yaml.safe_load(
        (STANDARDS / "submission-api.yaml").read_text(encoding="utf-8")
    )
    return loaded


def openapi_errors(schema: dict[str, Any], instance: Any) -> list[str]:
    """What an OpenAPI schema (with its component references) says is wrong with instance."""
    root = {**schema, "components": submission_api()["components"]}
    validator = jsonschema_rs.Draft202012Validator(root, validate_formats=True)
    return [f"{list(e.instance_path)}: {e.message}" for e in validator.iter_errors(instance)]


OPERATIONS = {
    ("POST", re.compile(r"^submissions$")): "/v1/submissions",
    ("PUT", re.compile(r"^submissions/[^/]+$")): "/v1/submissions/{submissionId}",
    (
        "PUT",
        re.compile(r"^submissions/[^/]+/attachments/[^/]+$"),
    ): "/v1/submissions/{submissionId}/attachments/{attachmentId}",
}


def _operation(exchange: dict[str, Any]) -> dict[str, Any]:
    method, path = exchange["method"], exchange["path"]
    [template] = [t for (m, p), t in OPERATIONS.items() if m == method and p.match(path)]
    operation: dict[str, Any] = submission_api()["paths"][template][method.lower()]
    return operation


def request_errors(exchange: dict[str, Any]) -> list[str]:
    """The request of one Submission API call (from the sandbox's journal) against the spec."""
    content_type = exchange["contentType"].split(";")[0].strip()
    request = _operation(exchange)["requestBody"]["content"].get(content_type)
    if request is None:
        return [f"request content type {content_type!r} is not in the spec"]
    return openapi_errors(request["schema"], exchange["body"])


def response_errors(exchange: dict[str, Any]) -> list[str]:
    """The answer to one Submission API call: a status, content type and body of the spec."""
    answer = _operation(exchange)["responses"].get(str(exchange["status"]))
    if answer is None:
        return [f"status {exchange['status']} is not in the spec"]
    if "content" not in answer:
        return [] if exchange["response"] is None else ["a body where the spec has none"]
    response_type = exchange["responseType"].split(";")[0].strip()
    if response_type not in answer["content"]:
        return [f"response content type {response_type!r} is not in the spec"]
    return openapi_errors(answer["content"][response_type]["schema"], exchange["response"])


def exchange_errors(exchange: dict[str, Any]) -> list[str]:
    """Request and answer of one call, both checked against the OpenAPI."""
    return request_errors(exchange) + response_errors(exchange)


def sent_submission(client: Any, submission_id: str) -> dict[str, Any]:
    """A submission as the sandbox holds it, with every uploaded attachment's JWE by id."""
    wire = str(uuid.UUID(submission_id))
    response = client.get(f"/v1/submissions/{wire}")
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    attachments = {}
    for attachment_id in body["attachments"]:
        got = client.get(f"/v1/submissions/{wire}/attachments/{attachment_id}")
        got.raise_for_status()
        assert got.headers["content-type"].startswith("application/jose")
        attachments[attachment_id] = got.text
    body["encryptedAttachments"] = attachments
    return body


def sender_client(settings: Settings) -> httpx.Client:
    """A client of the sandbox FIT-Connect logged in as the platform's sender."""
    sandbox = sandbox_fitconnect(settings)
    base = settings.handover_base_url
    token = httpx.post(
        f"{base}/token",
        data={
            "grant_type": "client_credentials",
            "client_id": sandbox.client_id,
            "client_secret": sandbox.client_secret,
        },
    )
    token.raise_for_status()
    return httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {token.json()['access_token']}"}
    )
