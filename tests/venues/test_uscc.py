"""统一社会信用代码: the GB 32100-2015 check character."""

import pytest

from placecode.errors import InvalidInput
from placecode.venues.uscc import ALPHABET, check_character, normalise_uscc

# Codes of real organisations, as published in their business licences.
KNOWN_VALID = ["91350100M000100Y43", "911100001000128855", "91440300708461136T"]


@pytest.mark.parametrize("code", KNOWN_VALID)
def test_real_codes_pass(code: str) -> None:
    assert normalise_uscc(code) == code
    assert normalise_uscc(" " + code.lower() + " ") == code


@pytest.mark.parametrize("code", KNOWN_VALID)
def test_every_one_character_change_is_caught(code: str) -> None:
    for position in range(18):
        for replacement in ALPHABET:
            if replacement == code[position]:
                continue
            altered = code[:position] + replacement + code[position + 1 :]
            with pytest.raises(InvalidInput) as refused:
                normalise_uscc(altered)
            assert refused.value.code == "uscc_check"


def test_a_swap_of_neighbours_is_caught() -> None:
    code = KNOWN_VALID[0]
    swapped = code[:3] + code[4] + code[3] + code[5:]
    with pytest.raises(InvalidInput, match="check character"):
        normalise_uscc(swapped)


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("9135010000", "uscc_length"),
        ("91350100M000100Y433", "uscc_length"),
        ("", "uscc_length"),
        ("91350100M000100I43", "uscc_characters"),  # I is not used
        ("91350100O000100Y43", "uscc_characters"),  # nor O
        ("91350100M000100Z43", "uscc_characters"),  # nor Z
        ("9135010-M000100Y43", "uscc_characters"),
        ("91350100M000100Y44", "uscc_check"),
    ],
)
def test_each_kind_of_mistake_has_its_own_reason(code: str, reason: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        normalise_uscc(code)
    assert refused.value.code == reason
    assert refused.value.message


def test_the_check_character_of_a_made_up_code() -> None:
    first17 = "91310107MA1G00001"
    code = first17 + check_character(first17)
    assert normalise_uscc(code) == code
