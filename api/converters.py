"""The one path parameter that is not a pk: a platform id (SPEC §10 names a case by it).

pddadmin/urls.py's rule (a URL names an object by its pk) exists because stored platform ids may
hold `/`, `?`, `#` or `%`. This converter matches only the syntax the feed accepts for an id
(pddadmin.feed.events.PLATFORM_ID), so a path never captures anything else; a case stored before
the feed checked its ids, with another id, is not reachable by the API (not_found)."""

from pddadmin.feed.events import PLATFORM_ID


class PlatformIdConverter:
    regex = PLATFORM_ID.pattern

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        if not PLATFORM_ID.fullmatch(value):
            raise ValueError(f"not a platform id: {value!r}")
        return value
