"""Asking a django-fsm state machine what is allowed, the same way for every model that has one
(after-sales cases, warranty violations).

A model declares each transition with `@transition(conditions=[Rule(...)], permission=...)`; the
services take transitions after `refusal` found nothing against them, and the pages offer the
transitions `allowed` returns. Neither re-decides what the declarations say.
"""

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from django_fsm import Transition


class Rule:
    """A django-fsm condition that can also say, in words, why it does not hold."""

    def __init__(self, test: Callable[[Any], bool], explain: Callable[[Any], str]):
        self.test, self.explain = test, explain
        self.__name__ = getattr(test, "__name__", "rule")

    def __call__(self, instance: Any) -> bool:
        if self in instance.__dict__.get(_MET, ()):
            return True  # found met a moment ago by `conditions_met`, the instance unchanged since
        return bool(self.test(instance))


# The instance attribute naming the rules a service has just checked (see `conditions_met`).
_MET = "_fsm_rules_met"


@contextlib.contextmanager
def conditions_met(instance: Any, spec: Transition) -> Iterator[None]:
    """Take the transition `spec` with its conditions already found met on `instance` (the
    service's own check, which explains a refusal): django-fsm's check of the same conditions,
    inside the transition method and before its body, takes that answer instead of asking the
    database a second time. Only for the call inside the block, where nothing changed between."""
    instance.__dict__[_MET] = frozenset(c for c in spec.conditions if isinstance(c, Rule))
    try:
        yield
    finally:
        instance.__dict__.pop(_MET, None)


def declared(instance: Any, name: str, *, field: str = "state") -> Transition | None:
    """The transition `name` as declared from the instance's current state; None when it does not
    leave that state. Read through django-fsm's public listing of the declarations; a declared
    source "*" (any state) or "+" (any other state) matches as django-fsm matches it."""
    by_source = {t.source: t for t in getattr(instance, f"get_all_{field}_transitions")() if t.name == name}
    state = getattr(instance, field)
    if state in by_source:
        return by_source[state]
    if "*" in by_source:
        return by_source["*"]
    other = by_source.get("+")
    return other if other is not None and other.target != state else None


def unmet(spec: Transition, instance: Any) -> Rule | None:
    """The first condition of `spec` that does not hold for `instance`, or None."""
    return next((condition for condition in spec.conditions if not condition(instance)), None)


def allowed(instance: Any, user: Any, *, field: str = "state") -> list[Transition]:
    """The transitions `user` may take on `instance` now: declared from its state, every condition
    met, and permitted to the user (django-fsm's own reading of the declarations)."""
    return list(getattr(instance, f"get_available_user_{field}_transitions")(user))
