"""Errors as RFC 9457 problem documents (`application/problem+json`).

Every error the API answers is one of the `Problem` kinds below, with a stable `code` an ERP can
branch on; `title` and `detail` are in the caller's language (Accept-Language, through Django's
LocaleMiddleware). `exception_handler` turns DRF's own exceptions into the same shape, so no
error leaves the API in another one. `PROBLEMS` is also what the OpenAPI description lists.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions as drf
from rest_framework.response import Response

PROBLEM_CONTENT_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:pddadmin:problem:"


class Problem(drf.APIException):
    """An error of the API: `code` and `status_code` fixed per kind, `detail` per occurrence,
    `extra` the members this kind adds (`errors`, `rule`, `state`)."""

    code = "problem"
    title = _("Problem")
    description = ""

    def __init__(self, detail: Any = None, *, extra: Mapping[str, Any] | None = None, headers=None):
        super().__init__(detail if detail is not None else self.title, self.code)
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})


class NotFound(Problem):
    status_code, code, title = 404, "not_found", _("Not found")
    description = "No such object, or it belongs to another shop (never `forbidden`)."


class ValidationFailed(Problem):
    status_code, code, title = 400, "validation_error", _("The request is not valid")
    description = "`errors` maps each field (or header, or `body`) to its messages."


class CaseChanged(Problem):
    status_code, code, title = 409, "case_changed", _("The case changed, please reload")
    description = "The case moved on since the caller read it; `state` is its state now. Reload it."


class IdempotencyKeyReused(Problem):
    status_code, code, title = 409, "idempotency_key_reused", _("This Idempotency-Key was used for another request")
    description = "The Idempotency-Key was used within its retention for a different method, path or body."


class RuleBroken(Problem):
    status_code, code, title = 422, "rule_broken", _("A rule of the platform refuses this")
    description = "A rule of the SPEC refuses the request; `rule` names it, `detail` says why."


class Unauthenticated(Problem):
    status_code, code, title = 401, "unauthenticated", _("A valid API key is required")
    description = "No key, an unknown key, or a revoked one (`Authorization: Api-Key <key>`)."


class Forbidden(Problem):
    status_code, code, title = 403, "forbidden", _("This key may not do that")
    description = "A viewer key tried to write."


class MethodNotAllowed(Problem):
    status_code, code, title = 405, "method_not_allowed", _("Method not allowed")


class NotAcceptable(Problem):
    status_code, code, title = 406, "not_acceptable", _("The API answers in JSON only")


class PayloadTooLarge(Problem):
    status_code, code, title = 413, "payload_too_large", _("The request body is too large")
    description = "The body is over API_MAX_BODY_BYTES."


class UnsupportedMediaType(Problem):
    status_code, code, title = 415, "unsupported_media_type", _("The request body must be JSON")


class RateLimited(Problem):
    status_code, code, title = 429, "rate_limited", _("Too many requests")
    description = "Over the key's rate limit (API_RATE_LIMIT); retry after `Retry-After` seconds."


PROBLEMS: dict[str, type[Problem]] = {
    kind.code: kind
    for kind in (
        NotFound,
        ValidationFailed,
        CaseChanged,
        IdempotencyKeyReused,
        RuleBroken,
        Unauthenticated,
        Forbidden,
        MethodNotAllowed,
        NotAcceptable,
        PayloadTooLarge,
        UnsupportedMediaType,
        RateLimited,
    )
}


def field_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail flattened to `field → messages` ("items.0.name" for nesting)."""
    if isinstance(detail, Mapping):
        found: dict[str, list[str]] = {}
        for name, value in detail.items():
            key = "body" if name == "non_field_errors" and not prefix else f"{prefix}{name}"
            for field, messages in field_errors(value, f"{key}.").items():
                found.setdefault(field, []).extend(messages)
        return found
    if isinstance(detail, list) and detail and all(not isinstance(item, (list, Mapping)) for item in detail):
        return {prefix.rstrip(".") or "body": [str(item) for item in detail]}
    if isinstance(detail, list):
        found = {}
        for index, value in enumerate(detail):
            for field, messages in field_errors(value, f"{prefix}{index}.").items():
                found.setdefault(field, []).extend(messages)
        return found
    return {prefix.rstrip(".") or "body": [str(detail)]}


def as_problem(exc: Exception) -> Problem | None:
    """Our Problem for any exception DRF or Django raise in a view; None for a real bug."""
    if isinstance(exc, Problem):
        return exc
    if isinstance(exc, drf.ValidationError):
        return ValidationFailed(extra={"errors": field_errors(exc.detail)})
    if isinstance(exc, drf.ParseError):
        return ValidationFailed(extra={"errors": {"body": [str(exc.detail)]}})
    if isinstance(exc, (drf.NotAuthenticated, drf.AuthenticationFailed)):
        return Unauthenticated(str(exc.detail))
    if isinstance(exc, (drf.PermissionDenied, DjangoPermissionDenied)):
        return Forbidden()
    if isinstance(exc, (drf.NotFound, Http404)):
        return NotFound()
    if isinstance(exc, drf.MethodNotAllowed):
        return MethodNotAllowed(str(exc.detail))
    if isinstance(exc, drf.NotAcceptable):
        return NotAcceptable()
    if isinstance(exc, drf.UnsupportedMediaType):
        return UnsupportedMediaType(str(exc.detail))
    if isinstance(exc, drf.Throttled):
        wait = max(1, int(exc.wait or 1))
        return RateLimited(
            _("Retry after %(seconds)d seconds.") % {"seconds": wait}, headers={"Retry-After": str(wait)}
        )
    return None


def problem_response(problem: Problem, *, instance: str = "") -> Response:
    body = {
        "type": f"{TYPE_PREFIX}{problem.code}",
        "title": str(problem.title),
        "status": problem.status_code,
        "detail": str(problem.detail),
        "instance": instance,
        "code": problem.code,
        **problem.extra,
    }
    return Response(body, status=problem.status_code, headers=problem.headers, content_type=PROBLEM_CONTENT_TYPE)


def exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response | None:
    """REST_FRAMEWORK's EXCEPTION_HANDLER. Unlike DRF's own it never marks the transaction for
    rollback: an idempotent write keeps its stored answer (api.idempotency decides what to keep,
    and each service already rolled back its own savepoint)."""
    problem = as_problem(exc)
    if problem is None:
        return None  # a bug: Django's 500, and the test suite's failure
    request = context.get("request")
    response = problem_response(problem, instance=request.path if request is not None else "")
    if isinstance(exc, (drf.NotAuthenticated, drf.AuthenticationFailed)):
        response["WWW-Authenticate"] = "Api-Key"
    if isinstance(exc, drf.MethodNotAllowed) and context.get("view") is not None:
        response["Allow"] = ", ".join(context["view"].allowed_methods)
    return response
