"""Quantities on the command line (scaling/units.py): every suffix, the errors word for word, and
the short form back."""

import pytest

from curascale.errors import UserError
from scaling.units import format_quantity, parse_quantity


@pytest.mark.parametrize("text, value", [
    ("128M", 128e6), ("1.28B", 1.28e9), ("1.28b", 1.28e9), ("3e9", 3e9), ("1.4T", 1.4e12), ("12K", 12e3), ("2G", 2e9),
    ("2P", 2e15), (" 51.2M ", 51.2e6), ("1_000_000", 1e6), ("1_000_", 1e3), ("12__8M", 128e6), ("0.5", 0.5), (7, 7.0),
])
def test_parse_quantity_reads_every_suffix(text, value):
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text, message", [
    ("lots", "--budget: not a number: 'lots' (examples: 128M, 1.28B, 3e9)"),
    ("M", "--budget: not a number: 'M' (examples: 128M, 1.28B, 3e9)"),
    ("", "--budget: not a number: '' (examples: 128M, 1.28B, 3e9)"),
    ("12X", "--budget: not a number: '12X' (examples: 128M, 1.28B, 3e9)"),
    ("inf", "--budget: must be finite, got 'inf'"),
    ("nan", "--budget: must be finite, got 'nan'"),
    ("1e400", "--budget: must be finite, got '1e400'"),
    ("0", "--budget: must be positive and finite, got '0'"),
    ("-5M", "--budget: must be positive and finite, got '-5M'"),
])
def test_parse_quantity_errors_name_the_option_and_the_text(text, message):
    with pytest.raises(UserError) as raised:
        parse_quantity(text, name="--budget")
    assert str(raised.value) == message


def test_parse_quantity_default_name_and_signed_values():
    with pytest.raises(UserError, match="^value: must be positive and finite, got '-1'$"):
        parse_quantity("-1")
    assert parse_quantity("-0.12", positive=False) == -0.12 and parse_quantity("0", positive=False) == 0.0
    assert parse_quantity("-2K", positive=False) == -2000.0


@pytest.mark.parametrize("value, text", [
    (1.28e8, "128M"), (1.28e9, "1.28B"), (3.2e6, "3.2M"), (999.0, "999"), (1e3, "1K"), (1e6, "1M"), (1e9, "1B"), (1e12, "1T"), (2.5e14, "250T"),
    (999_999_999_999_999.0, "1000T"), (1e15, "1e+15"), (1e20, "1e+20"), (0.25, "0.25"), (-3.2e6, "-3.2M"),
    (float("inf"), "inf"), (float("nan"), "nan"), (123456789.0, "123.5M"),
])
def test_format_quantity_is_short_and_never_stacks_an_exponent_on_a_suffix(value, text):
    assert format_quantity(value) == text


def test_format_then_parse_gives_the_value_to_four_digits():
    for value in (12.8e6, 51.2e6, 1.28e9, 6.4e12, 3e4):
        assert parse_quantity(format_quantity(value)) == pytest.approx(value, rel=5e-4)
