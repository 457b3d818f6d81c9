"""Documents and phones: every type checked, normalised and masked."""

from datetime import date

import pytest

from placecode.errors import InvalidInput
from placecode.people.documents import (
    DocType,
    id_check_digit,
    mask_document,
    mask_name,
    mask_phone,
    normalise_document,
    normalise_phone,
)

TODAY = date(2022, 3, 24)


def make_id(region: str, born: str, sequence: str) -> str:
    first17 = region + born + sequence
    return first17 + id_check_digit(first17)


VALID_IDS = [
    "11010519491231002X",  # the sample printed in GB 11643 guidance
    make_id("310107", "19800101", "123"),  # Putuo, Shanghai
    make_id("440305", "20150601", "004"),
]


@pytest.mark.parametrize("number", VALID_IDS)
def test_valid_identity_card_numbers_pass(number: str) -> None:
    assert normalise_document("id_card", number.lower(), today=TODAY).number == number


@pytest.mark.parametrize("number", VALID_IDS)
def test_any_one_digit_off_is_caught(number: str) -> None:
    for position in range(17):
        digit = number[position]
        replacement = "0" if digit != "0" else "1"
        altered = number[:position] + replacement + number[position + 1 :]
        with pytest.raises(InvalidInput) as refused:
            normalise_document("id_card", altered, today=TODAY)
        assert refused.value.code in ("id_check", "id_region", "id_birth_date"), position


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("3101071980010112", "id_format"),
        ("31010719800101123Y", "id_format"),
        (make_id("990107", "19800101", "123"), "id_region"),
        (make_id("310107", "19800230", "123"), "id_birth_date"),
        (make_id("310107", "20230101", "123"), "id_birth_date"),  # after "today"
        (make_id("310107", "18500101", "123"), "id_birth_date"),
    ],
)
def test_implausible_identity_cards_are_refused_with_the_reason(number: str, code: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        normalise_document("id_card", number, today=TODAY)
    assert refused.value.code == code
    assert refused.value.details == {"field": "doc_number"}


@pytest.mark.parametrize(
    ("doc_type", "good", "bad"),
    [
        (DocType.passport, "E12345678", "E1"),
        (DocType.passport, "x1234567", "ABC-12345678901234567"),
        (DocType.hk_macau_permit, "H12345678", "K12345678"),
        (DocType.hk_macau_permit, "M1234567890", "H1234567"),
        (DocType.taiwan_permit, "12345678", "1234567"),
        (DocType.foreigner_prc, "USA310107800101", "US3101078001"),
        (DocType.foreigner_prc, make_id("933101", "19800101", "123"), "93310119800101123X"),
    ],
)
def test_every_document_type_is_checked(doc_type: DocType, good: str, bad: str) -> None:
    assert normalise_document(doc_type, f" {good} ", today=TODAY).number == good.upper()
    with pytest.raises(InvalidInput):
        normalise_document(doc_type, bad, today=TODAY)


def test_an_unknown_document_type_is_named() -> None:
    with pytest.raises(InvalidInput) as refused:
        normalise_document("library_card", "123", today=TODAY)
    assert refused.value.code == "doc_type"


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("13812345678", "+8613812345678"),
        ("+86 138 1234 5678", "+8613812345678"),
        ("021-6234 5678", "+862162345678"),
        ("+1 415 555 2671", "+14155552671"),
        ("+852 9123 4567", "+85291234567"),
    ],
)
def test_phones_are_normalised(raw: str, e164: str) -> None:
    assert normalise_phone(raw) == e164


@pytest.mark.parametrize("raw", ["12345", "not a phone", "+86 138 1234", ""])
def test_bad_phones_are_refused(raw: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        normalise_phone(raw)
    assert refused.value.code == "phone"


def test_masks_show_enough_to_recognise_oneself() -> None:
    assert mask_name("张三丰") == "张*丰"
    assert mask_name("李四") == "李*"
    assert mask_name("欧阳娜娜") == "欧**娜"
    assert mask_name("John Smith") == "J*** S****"
    assert mask_document("310107198001011234") == "3101**********1234"
    assert mask_document("E12345678") == "E123*5678"
    assert mask_phone("+8613812345678") == "138****5678"
    assert mask_phone("+14155552671") == "+14*****2671"
