"""Panels that apps above aftersales add to the merchant's case page.

The case page is aftersales' own (layer 2), but some of what a merchant wants to see there is
computed higher up: what an action would do to the goods' service-quality figures is metrics'
(layer 3), which aftersales may not import. So the page renders whatever panels are registered
here, and an app registers its panel from its `AppConfig.ready()`.

A panel is a callable `(case, user, actions) -> (template name, context) | None`: `actions` are
the actions the page offers this user now, the same list its buttons are drawn from; None means
the panel has nothing to show for this case.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.template.loader import render_to_string
from django.utils.safestring import SafeString


@dataclass(frozen=True)
class Action:
    name: str  # the transition's name, as declared (merchant_agree, merchant_refuse, …)
    label: str


Panel = Callable[..., tuple[str, dict] | None]

_panels: list[Panel] = []


def register(panel: Panel) -> Panel:
    """Add `panel` to every case page (once, however often `ready()` runs); usable as a decorator."""
    if panel not in _panels:
        _panels.append(panel)
    return panel


def unregister(panel: Panel) -> None:
    if panel in _panels:
        _panels.remove(panel)


def render_panels(*, request, case, actions: Sequence[Action]) -> list[SafeString]:
    """Each registered panel's HTML for this case, in the order they were registered."""
    rendered = []
    for panel in _panels:
        result = panel(case, request.user, list(actions))
        if result is not None:
            template, context = result
            rendered.append(render_to_string(template, context, request=request))
    return rendered
