"""Errors a person can act on, shared by services, the web layer and the CLI.

A service raises one of these with a stable machine code and a human message; the web
layer turns it into `{"error": code, "message": text}` with the status below (or an error
page), and the CLI prints the message on one line.
"""

from __future__ import annotations

from typing import Any, ClassVar


class PlaceCodeError(Exception):
    status: ClassVar[int] = 400
    default_code: ClassVar[str] = "bad_request"
    # Whether the request's changes are kept although it fails (a failed sign-in must
    # still count towards the lock-out). Almost every error keeps nothing.
    keep_changes: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.details = details
        self.headers = headers or {}

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled whole, whatever a subclass's __init__ asks for: the check-in writer's
        # process sends these back to the server.
        return (_rebuilt, (type(self), dict(self.__dict__)))


def _rebuilt(kind: type[PlaceCodeError], state: dict[str, Any]) -> PlaceCodeError:
    error = kind.__new__(kind)
    Exception.__init__(error, state["message"])
    error.__dict__.update(state)
    return error


class InvalidInput(PlaceCodeError):
    status = 422
    default_code = "invalid_input"


class Unauthorized(PlaceCodeError):
    status = 401
    default_code = "unauthorized"


class Forbidden(PlaceCodeError):
    status = 403
    default_code = "forbidden"


class NotFound(PlaceCodeError):
    status = 404
    default_code = "not_found"


class Conflict(PlaceCodeError):
    status = 409
    default_code = "conflict"


class Gone(PlaceCodeError):
    status = 410
    default_code = "gone"


class TooManyRequests(PlaceCodeError):
    status = 429
    default_code = "too_many_requests"

    def __init__(self, message: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(message, code=code, headers={"Retry-After": str(max(1, retry_after))})
        self.retry_after = retry_after


class Unavailable(PlaceCodeError):
    status = 503
    default_code = "unavailable"

    def __init__(self, message: str, *, retry_after: int = 1, code: str | None = None) -> None:
        super().__init__(message, code=code, headers={"Retry-After": str(max(1, retry_after))})


class ConfigError(PlaceCodeError):
    """A setting is missing or unsafe; raised before anything starts."""

    status = 500
    default_code = "config"
