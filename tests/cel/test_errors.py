"""Compile errors shown the way cel-go's Error.ToDisplayString shows them."""

from __future__ import annotations

import pytest

from webhook.cel.errors import error_text, position_of


@pytest.mark.parametrize(
    ("source", "offset", "position"),
    [("a + b", 0, (1, 1)), ("a + b", 4, (1, 5)), ("a +\n  b", 6, (2, 3)), ("'é' + b", 6, (1, 7))],
)
def test_positions_are_one_based_lines_and_code_point_columns(source: str, offset: int, position: tuple[int, int]) -> None:
    assert position_of(source, offset) == position


def test_error_text_shows_the_line_and_a_caret_under_the_column() -> None:
    assert error_text("a +\n  b.c", 2, 4, "undefined field 'c'") == (
        "ERROR: <input>:2:4: undefined field 'c'\n |   b.c\n | ...^"
    )


def test_tabs_show_as_spaces_and_wide_characters_under_wide_dots() -> None:
    assert error_text("\t'é' + x", 1, 7, "m") == "ERROR: <input>:1:7: m\n |  'é' + x\n | ..\uff0e...^"
    assert error_text("'é'", 1, 2, "m") == "ERROR: <input>:1:2: m\n | 'é'\n | .\uff3e"


def test_an_unknown_location_has_no_snippet() -> None:
    assert error_text("a", -1, 0, "m") == "ERROR: <input>:-1:0: m"
