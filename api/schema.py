"""The OpenAPI description's shared parts: the API-key scheme, the Idempotency-Key header of
every write, and the problem documents every operation may answer.

Each operation lists every status it can answer, so a client (and schemathesis) meets no
undocumented one: `add_problems` (a drf-spectacular postprocessing hook) adds to each operation
the problems any operation of its kind can answer, plus those its view names with
`problems(...)`, each as `application/problem+json` with the `Problem` schema.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter

from .idempotency import HEADER as IDEMPOTENCY_HEADER
from .idempotency import KEY_PATTERN, MAX_KEY_LENGTH, WRITE_METHODS
from .problems import PROBLEM_CONTENT_TYPE, PROBLEMS

EXTENSION = "x-problems"
# Any operation: a bad query, header or body; no key; not JSON; over the rate limit.
EVERY_OPERATION = ("validation_error", "unauthenticated", "not_acceptable", "rate_limited")
WITH_PATH_ID = ("not_found",)
EVERY_WRITE = ("forbidden", "idempotency_key_reused", "payload_too_large", "unsupported_media_type")


def problems(*codes: str) -> dict[str, Any]:
    """`extend_schema(extensions=problems("case_changed", "rule_broken"))`: the problems of the
    domain this operation may answer, besides the ones every operation of its kind may."""
    unknown = set(codes) - set(PROBLEMS)
    assert not unknown, f"unknown problem codes {unknown}"
    return {EXTENSION: list(codes)}


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "api.auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Authorization: Api-Key <key>`: a key a shop owner created in the back-office.",
        }


class ApiAutoSchema(AutoSchema):
    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        if self.method in WRITE_METHODS:
            parameters.append(
                OpenApiParameter(
                    IDEMPOTENCY_HEADER,
                    {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": KEY_PATTERN},
                    OpenApiParameter.HEADER,
                    required=True,
                    description=(
                        "Any unique string (a UUID) per write. A retry with the same key and body gets the "
                        "first answer and changes nothing; kept for API_IDEMPOTENCY_TTL (24 h)."
                    ),
                )
            )
        return parameters


PROBLEM_SCHEMA = {
    "type": "object",
    "description": "An RFC 9457 problem document.",
    "required": ["type", "title", "status", "detail", "instance", "code"],
    "properties": {
        "type": {"type": "string", "description": "urn:pddadmin:problem:<code>"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string", "description": "The path of the request."},
        "code": {"type": "string", "enum": sorted(PROBLEMS)},
        "errors": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
            "description": "validation_error: field → messages.",
        },
        "rule": {"type": "string", "description": "rule_broken: the SPEC rule that refuses."},
        "state": {"type": "string", "description": "case_changed: the case's state now."},
    },
}


def _response(codes: list[str]) -> dict[str, Any]:
    lines = [f"`{code}`: {PROBLEMS[code].description or PROBLEMS[code].title}" for code in codes]
    response: dict[str, Any] = {
        "description": "\n\n".join(lines),
        "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    if "rate_limited" in codes:
        response["headers"] = {
            "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait.", "required": True}
        }
    return response


def add_problems(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    """drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS POSTPROCESSING_HOOKS)."""
    result.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            codes = [*EVERY_OPERATION, *operation.pop(EXTENSION, [])]
            if "{" in path:
                codes.extend(WITH_PATH_ID)
            if method.upper() in WRITE_METHODS:
                codes.extend(EVERY_WRITE)
            by_status: dict[int, list[str]] = {}
            for code in dict.fromkeys(codes):
                by_status.setdefault(PROBLEMS[code].status_code, []).append(code)
            responses = operation.setdefault("responses", {})
            for status, status_codes in sorted(by_status.items()):
                responses[str(status)] = _response(status_codes)
    return result
