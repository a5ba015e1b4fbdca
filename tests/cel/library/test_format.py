"""The Kubernetes format library, transcribed from kube-apiserver's tests.

Cases: apiserver v0.35.0 pkg/cel/library/format_test.go (TestFormat) and
apiextensions-apiserver validation_test.go ("format"). Upstream compares results with
``types.OptionalNone`` / ``types.OptionalOf(list)``; here "none" is ``!x.hasValue()`` and
"of(list)" is ``x.value() == list`` (see the optional emulation in library/format.py).
"""

from __future__ import annotations

import itertools

import pytest
from cel_expr_python import cel

from webhook.cel import CelEnvironment, CelEvaluationError
from webhook.cel.library.named_formats import NAMED_FORMATS, is_datetime, validate_uri

DNS1123_LABEL = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and "
    "end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
DNS1123_SUBDOMAIN = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
DNS1035_LABEL = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
    "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
QUALIFIED_NAME = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
LABEL_VALUE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used "
    "for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)


@pytest.fixture(scope="module")
def env() -> CelEnvironment:
    return CelEnvironment({"self": cel.Type.DYN})


def evaluate(env: CelEnvironment, expression: str):
    return env.compile(expression).evaluate({"self": {}})


@pytest.mark.parametrize(
    "expression",
    [
        'format.dns1123Label().validate("my-label-name")',
        'format.dns1123Subdomain().validate("apiextensions.k8s.io")',
        'format.qualifiedName().validate("apiextensions.k8s.io/v1beta1")',
        'format.dns1123LabelPrefix().validate("my-label-prefix-")',
        'format.dns1123SubdomainPrefix().validate("mysubdomain.prefix.-")',
        'format.dns1035LabelPrefix().validate("my-label-prefix-")',
        'format.uri().validate("http://example.com")',
        'format.uuid().validate("123e4567-e89b-12d3-a456-426614174000")',
        'format.byte().validate("aGVsbG8=")',
        'format.date().validate("2021-01-01")',
        'format.datetime().validate("2021-01-01T00:00:00Z")',
        'format.dns1123Label().validate("my-label-name")',
        'format.dns1123Subdomain().validate("example.com")',
        'format.dns1035Label().validate("my-label-name")',
        'format.qualifiedName().validate("my.name")',
        'format.date().validate("2020-01-01")',
        'format.datetime().validate("2020-01-01T00:00:00Z")',
        'format.labelValue().validate("my-cool-label-Value")',
        'format.named("dns1123Label").value().validate("my-name")',
    ],
)
def test_valid_string_validates_to_none(env: CelEnvironment, expression: str) -> None:
    assert evaluate(env, f"{expression}.hasValue()") is False


@pytest.mark.parametrize(
    ("expression", "errors"),
    [
        ('format.dns1123Label().validate("contains a space")', [DNS1123_LABEL]),
        ('format.dns1123Subdomain().validate("contains a space")', [DNS1123_SUBDOMAIN]),
        ('format.dns1035Label().validate("contains a space")', [DNS1035_LABEL]),
        ('format.qualifiedName().validate("contains a space")', [QUALIFIED_NAME]),
        ('format.dns1123LabelPrefix().validate("contains a space-")', [DNS1123_LABEL]),
        ('format.dns1123SubdomainPrefix().validate("contains a space-")', [DNS1123_SUBDOMAIN]),
        ('format.dns1035LabelPrefix().validate("contains a space-")', [DNS1035_LABEL]),
        ('format.byte().validate("aGVsbG8")', ["invalid base64"]),
        ('format.date().validate("2020-01-32")', ["invalid date"]),
        ('format.datetime().validate("2020-01-32T00:00:00Z")', ["invalid datetime"]),
        ('format.labelValue().validate("my-cool-label-Value!!\\n\\n!!!")', [LABEL_VALUE]),
        # beyond upstream's table: apimachinery's other messages
        ('format.dns1123Label().validate("a.b")', ["must not contain dots"]),
        ('format.dns1123Label().validate("' + "a" * 64 + '")', ["must be no more than 63 characters"]),
        ('format.labelValue().validate("' + "a" * 64 + '")', ["must be no more than 63 bytes"]),
        ('format.qualifiedName().validate("/a")', ["prefix part must be non-empty"]),
        ('format.qualifiedName().validate("a/b/c")', [
            "a valid label key must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
            "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
            "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix "
            "and '/' (e.g. 'example.com/MyName')"
        ]),
        ('format.uuid().validate("not-a-uuid")', ["does not match the UUID format"]),
        ('format.uri().validate("example.com")', ['parse "example.com": invalid URI for request']),
        ('format.uri().validate("")', ['parse "": empty url']),
    ],
)
def test_invalid_string_validates_to_its_errors(env: CelEnvironment, expression: str, errors: list[str]) -> None:
    assert evaluate(env, f"{expression}.hasValue()") is True
    assert evaluate(env, f"{expression}.value()") == errors


def test_first_error_of_an_invalid_label(env: CelEnvironment) -> None:
    # validation_test.go: format.dns1123Label().validate("contains a space").value()[0] == "..."
    assert evaluate(env, 'format.dns1123Label().validate("contains a space").value()[0]') == DNS1123_LABEL


def test_unknown_format_name_has_no_value(env: CelEnvironment) -> None:
    assert evaluate(env, 'format.named("unknown").hasValue()') is False
    assert evaluate(env, '!format.named("unknown").hasValue()') is True


def test_value_of_unknown_format_is_an_error(env: CelEnvironment) -> None:
    with pytest.raises(CelEvaluationError) as caught:
        evaluate(env, 'format.named("unknown").value()')
    assert caught.value.message == "optional.none() dereference"


@pytest.mark.parametrize("name", sorted(NAMED_FORMATS))
def test_every_named_format_is_found_and_equals_its_constant(env: CelEnvironment, name: str) -> None:
    assert evaluate(env, f'format.named("{name}").hasValue()') is True
    assert evaluate(env, f'format.named("{name}").value() == format.{name}()') is True


@pytest.mark.parametrize(("left", "right"), list(itertools.permutations(sorted(NAMED_FORMATS), 2)))
def test_distinct_formats_are_unequal(env: CelEnvironment, left: str, right: str) -> None:
    assert evaluate(env, f"format.{left}() == format.{right}()") is False


def test_format_named_result_supports_opt_map(env: CelEnvironment) -> None:
    assert evaluate(env, 'format.named("uuid").optMap(f, f.validate("x")).hasValue()') is True


@pytest.mark.xfail(reason="results are emulated optionals: equality with optional.none() is false", strict=True)
def test_comparison_with_optional_none(env: CelEnvironment) -> None:
    assert evaluate(env, 'format.dns1123Label().validate("my-label-name") == optional.none()') is True


@pytest.mark.parametrize(
    ("value", "errors"),
    [
        ("http://example.com", []),
        ("/path/only", []),
        ("*", []),
        ("mailto:someone@example.com", []),
        ("http://[::1]:8080/x", []),
        ("http://host:port/", ['parse "http://host:port/": invalid port ":port" after host']),
        ("http://a b.com/", ['parse "http://a b.com/": invalid character " " in host name']),
        ("http://example.com/%zz", ['parse "http://example.com/%zz": invalid URL escape "%zz"']),
        (":foo", ['parse ":foo": missing protocol scheme']),
        ("http://[::1/", ['parse "http://[::1/": missing \']\' in host']),
        ("a\nb", ['parse "a\\nb": net/url: invalid control character in URL']),
    ],
)
def test_uri_errors_are_go_net_url_messages(value: str, errors: list[str]) -> None:
    assert validate_uri(value) == errors


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("2021-01-01T00:00:00Z", True),
        ("2021-01-01t10:20:30.123+01:00", True),
        ("2021-01-01T24:00:00Z", False),
        ("2021-02-30T00:00:00Z", False),
        ("2021-01-01", False),
    ],
)
def test_datetime_follows_strfmt(value: str, valid: bool) -> None:
    assert is_datetime(value) is valid
