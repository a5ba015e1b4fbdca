"""Kubernetes URL library: ``url('https://example.com/p?q=1')``, ``isURL``, component getters.

Source: k8s.io/apiserver/pkg/cel/library/urls.go (v1.35) on Go's net/url (go_url.py): a URL
must pass ``url.ParseRequestURI`` (an absolute URI or an absolute path) and is then parsed
with ``url.Parse``. cel-go compares URLs by ``URL.String()``, so a ``kubernetes.URL`` value
holds that string and the getters re-parse it.

Go strings may hold any bytes: a component that unescapes to invalid UTF-8 (``%ff``) comes
back with U+FFFD in its place, as CEL strings here must be valid Unicode.
"""

from __future__ import annotations

from typing import Any, Callable

from cel_expr_python import cel

from webhook.cel.errors import CelFunctionError
from webhook.cel.library import CelLibrary
from webhook.cel.library.go_url import URL, URLError, parse_request_uri, parse_url
from webhook.cel.types import OpaqueType, opaque_type

T = cel.Type

URL_TYPE = opaque_type("kubernetes.URL")


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def parse_k8s_url(text: str) -> URL:
    """urls.go stringToUrl: ParseRequestURI must accept it; Parse gives the value."""
    try:
        parse_request_uri(text)
        return parse_url(text)
    except URLError as exc:
        raise CelFunctionError(f"URL parse error during conversion from string: {exc}") from None


def _url(text: str) -> Any:
    return URL_TYPE.wrap(_text(parse_k8s_url(text).to_bytes()))


def _is_url(text: str) -> bool:
    try:
        parse_request_uri(text)
    except URLError:
        return False
    return True


def from_message(message: Any) -> URL:
    return parse_url(OpaqueType.unwrap(message))


def _getter(overload_id: str, component: Callable[[URL], bytes]) -> cel.Overload:
    return cel.Overload(
        overload_id, T.STRING, [URL_TYPE.cel_type], is_member=True,
        impl=lambda message: _text(component(from_message(message))),
    )


def _query(message: Any) -> dict[str, list[str]]:
    return {_text(key): [_text(v) for v in values] for key, values in from_message(message).query().items()}


LIBRARY = CelLibrary(
    name="kubernetes.urls",
    functions=(
        cel.FunctionDecl("url", [cel.Overload("string_to_url", URL_TYPE.cel_type, [T.STRING], impl=_url)]),
        cel.FunctionDecl("getScheme", [_getter("url_get_scheme", lambda u: u.scheme)]),
        cel.FunctionDecl("getHost", [_getter("url_get_host", lambda u: u.host)]),
        cel.FunctionDecl("getHostname", [_getter("url_get_hostname", URL.hostname)]),
        cel.FunctionDecl("getPort", [_getter("url_get_port", URL.port)]),
        cel.FunctionDecl("getEscapedPath", [_getter("url_get_escaped_path", URL.escaped_path)]),
        cel.FunctionDecl(
            "getQuery",
            [
                cel.Overload(
                    "url_get_query", T.Map(T.STRING, T.List(T.STRING)), [URL_TYPE.cel_type],
                    is_member=True, impl=_query,
                )
            ],
        ),
        cel.FunctionDecl("isURL", [cel.Overload("is_url_string", T.BOOL, [T.STRING], impl=_is_url)]),
    ),
)
