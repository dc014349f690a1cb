"""Every route in the URL resolver, with concrete URLs built from real objects.

The security tests walk ``routes()`` rather than a hand-written list, so a route added to any
``urls.py`` is requested by them the day it is added (and fails the access matrix until its
expectations are written down).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.resolvers import RegexPattern, RoutePattern
from django.utils.regex_helper import normalize

_ROUTE_PARAMETER = re.compile(r"<(?:(?P<converter>\w+):)?(?P<name>\w+)>")
# What a missing object looks like, per converter: the URL still resolves, the object does not
# exist.
MISSING = {"int": "987654321", "uuid": "00000000-0000-4000-8000-000000000000", "path": "987654321"}


@dataclass(frozen=True)
class Route:
    """One URL pattern: ``key`` is its ``namespace:name`` (the pattern when it has no name)."""

    key: str
    namespace: str
    pattern: str
    parameters: tuple[str, ...]
    converters: Mapping[str, str]
    view: Callable[..., object]
    _build: Callable[[Mapping[str, str]], str]

    def url(self, values: Mapping[str, object]) -> str:
        missing = [name for name in self.parameters if name not in values]
        assert not missing, f"no value for {missing} of route {self.key} ({self.pattern})"
        url = self._build({name: str(values[name]) for name in self.parameters})
        assert resolve(url).func is self.view, f"{url} does not resolve to {self.key}"
        return url

    def missing_url(self, values: Mapping[str, object]) -> str:
        """The same URL with every object id replaced by one that does not exist."""
        changed = {
            name: MISSING.get(self.converters.get(name, ""), values[name])
            for name in self.parameters
        }
        return self.url(changed)

    @property
    def is_api(self) -> bool:
        return self.namespace == "api"


def _route_builder(prefix: str, route: str) -> Callable[[Mapping[str, str]], str]:
    def build(values: Mapping[str, str]) -> str:
        return "/" + prefix + _ROUTE_PARAMETER.sub(lambda m: values[m["name"]], route)

    return build


def _regex_builder(prefix: str, regex: str) -> Callable[[Mapping[str, str]], str]:
    template, _ = normalize(regex)[0]

    def build(values: Mapping[str, str]) -> str:
        return "/" + prefix + template % values

    return build


def _walk(resolver: URLResolver, prefix: str, namespaces: tuple[str, ...]) -> Iterator[Route]:
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            assert isinstance(entry.pattern, RoutePattern), "includes are mounted with path()"
            inner = namespaces + ((entry.namespace,) if entry.namespace else ())
            yield from _walk(entry, prefix + str(entry.pattern), inner)
            continue
        assert isinstance(entry, URLPattern)
        pattern = entry.pattern
        namespace = ":".join(namespaces)
        if isinstance(pattern, RoutePattern):
            text = str(pattern)
            converters = {
                m["name"]: m["converter"] or "str" for m in _ROUTE_PARAMETER.finditer(text)
            }
            build = _route_builder(prefix, text)
        else:
            assert isinstance(pattern, RegexPattern)
            text = pattern.regex.pattern
            converters = dict.fromkeys(pattern.regex.groupindex, "regex")
            build = _regex_builder(prefix, text)
        full = prefix + text
        key = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name or full
        yield Route(key, namespace, full, tuple(converters), converters, entry.callback, build)


def routes() -> list[Route]:
    found = list(_walk(get_resolver(), "", ()))
    keys = [route.key for route in found]
    assert len(keys) == len(set(keys)), "two routes share a name"
    return found
