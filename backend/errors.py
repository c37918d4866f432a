"""Domain errors that carry their HTTP status and a message a citizen can act on."""

from __future__ import annotations


class KnopfdruckError(Exception):
    """Base of every error we raise on purpose; one handler maps it to JSON or a page."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class NotFound(KnopfdruckError):
    status_code = 404
    code = "not_found"


class Unauthorized(KnopfdruckError):
    status_code = 401
    code = "unauthorized"


class Forbidden(KnopfdruckError):
    status_code = 403
    code = "forbidden"


class Conflict(KnopfdruckError):
    status_code = 409
    code = "conflict"


class InvalidInput(KnopfdruckError):
    status_code = 422
    code = "invalid_input"


class ServiceUnavailable(KnopfdruckError):
    status_code = 503
    code = "unavailable"


class DefinitionError(Exception):
    """A service definition is invalid; carries every problem with file, line and YAML path."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems
