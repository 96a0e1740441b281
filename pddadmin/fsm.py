"""Asking a django-fsm state machine what is allowed, the same way for every model that has one
(after-sales cases, warranty violations).

A model declares each transition with `@transition(conditions=[Rule(...)], permission=...)`; the
services take transitions after `refusal` found nothing against them, and the pages offer the
transitions `allowed` returns. Neither re-decides what the declarations say.
"""

from collections.abc import Callable
from typing import Any

from django_fsm import Transition


class Rule:
    """A django-fsm condition that can also say, in words, why it does not hold."""

    def __init__(self, test: Callable[[Any], bool], explain: Callable[[Any], str]):
        self.test, self.explain = test, explain
        self.__name__ = getattr(test, "__name__", "rule")

    def __call__(self, instance: Any) -> bool:
        return bool(self.test(instance))


def declared(instance: Any, name: str) -> Transition | None:
    """The transition `name` as declared from the instance's current state; None when it does not
    leave that state."""
    meta = getattr(type(instance), name)._django_fsm
    state = meta.field.get_state(instance)
    return meta.get_transition(state) if meta.has_transition(state) else None


def unmet(spec: Transition, instance: Any) -> Rule | None:
    """The first condition of `spec` that does not hold for `instance`, or None."""
    return next((condition for condition in spec.conditions if not condition(instance)), None)


def allowed(instance: Any, user: Any, *, field: str = "state") -> list[Transition]:
    """The transitions `user` may take on `instance` now: declared from its state, every condition
    met, and permitted to the user (django-fsm's own reading of the declarations)."""
    return list(getattr(instance, f"get_available_user_{field}_transitions")(user))
