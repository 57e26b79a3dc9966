"""USCC check digits (GB 32100-2015): hand-computed cases, real codes, vectorised validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gisefficiency.core.errors import InputError
from gisefficiency.core.uscc import USCC_CHARSET, USCC_WEIGHTS, check_digits, is_valid_uscc, uscc_check_digit


def test_weights_are_powers_of_three_mod_31():
    assert USCC_WEIGHTS.tolist() == [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


def test_hand_computed_check_digits():
    # All zeros: sum 0 -> 31 - 0 = 31 -> 0.
    assert uscc_check_digit("0" * 17) == "0"
    # "1" then zeros: sum = 1 * w1 = 1 -> 31 - 1 = 30 -> charset[30] = "Y".
    assert uscc_check_digit("1" + "0" * 16) == "Y"
    # Zeros then "1": sum = w17 = 3^16 mod 31 = 28 -> 31 - 28 = 3 -> "3".
    assert uscc_check_digit("0" * 16 + "1") == "3"
    # "A" (value 10) in position 2: 10 * 3 = 30 -> 31 - 30 = 1 -> "1".
    assert uscc_check_digit("0A" + "0" * 15) == "1"


@pytest.mark.parametrize(
    "code",
    ["91350100M000100Y43", "91110000600037341L", "91330000142916567N"],
)
def test_real_codes_are_valid(code):
    assert uscc_check_digit(code[:17]) == code[17]
    assert is_valid_uscc([code]).tolist() == [True]


def test_is_valid_uscc_vectorised_with_bad_values():
    values = [
        "91350100M000100Y43",  # valid
        "91350100M000100Y44",  # wrong check digit
        " 91350100m000100y43 ",  # spaces and lower case are accepted
        "91350100M000100Y4",  # too short
        "91350100M000100Y43X",  # too long
        "9135010OM000100Y43",  # O is not in the charset
        "９1350100M000100Y43",  # full-width digit
        None,
        float("nan"),
        12345,
    ]
    assert is_valid_uscc(values).tolist() == [True, False, True, False, False, False, False, False, False, False]
    assert is_valid_uscc(pd.Series(["91350100M000100Y43", pd.NA], dtype="string")).tolist() == [True, False]
    assert is_valid_uscc(np.array(["91110000600037341L"])).tolist() == [True]
    assert is_valid_uscc([]).shape == (0,)


def test_check_digits_marks_bad_prefixes_empty():
    assert check_digits(np.array(["91350100M000100Y4", "9135010OM000100Y4", "91350100M000100Y4X"])).tolist() == [
        "3", "", ""
    ]


@pytest.mark.parametrize("bad", ["123", "9135010OM000100Y4", "91350100M000100Y4X"])
def test_check_digit_rejects_bad_input(bad):
    with pytest.raises(InputError, match="cannot compute a USCC check digit"):
        uscc_check_digit(bad)


@given(st.text(alphabet=USCC_CHARSET, min_size=17, max_size=17), st.sampled_from(list(USCC_CHARSET)))
def test_only_the_right_check_digit_is_valid(first17, other):
    check = uscc_check_digit(first17)
    assert is_valid_uscc([first17 + check]).tolist() == [True]
    assert is_valid_uscc([first17 + other]).tolist() == [other == check]
