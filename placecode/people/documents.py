"""Identity documents and phone numbers: check them, normalise them, mask them.

居民身份证 (GB 11643: region, birth date, check digit), passport, 港澳居民来往内地通行证,
台湾居民来往大陆通行证, and the foreigner's permanent residence card (old 15-character and new
18-character forms). Phones are parsed with `phonenumbers` (China by default) into E.164.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

import phonenumbers

from placecode.errors import InvalidInput
from placecode.i18n import N_, _


class DocType(StrEnum):
    id_card = "id_card"
    passport = "passport"
    hk_macau_permit = "hk_macau_permit"
    taiwan_permit = "taiwan_permit"
    foreigner_prc = "foreigner_prc"


DOC_LABELS = {
    DocType.id_card: N_("Resident identity card"),
    DocType.passport: N_("Passport"),
    DocType.hk_macau_permit: N_("Mainland travel permit for Hong Kong and Macao residents"),
    DocType.taiwan_permit: N_("Mainland travel permit for Taiwan residents"),
    DocType.foreigner_prc: N_("Foreigner's permanent residence card"),
}

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
# Province-level codes (the first two digits of a 居民身份证).
PROVINCES = frozenset(
    {
        "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36",
        "37", "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62",
        "63", "64", "65", "71", "81", "82", "83", "91",
    }
)  # fmt: skip
OLDEST_BIRTH_YEAR = 1890
CJK = re.compile(r"[\u3400-\u9fff]")  # compiled once: a bulk load masks a million names


@dataclass(frozen=True)
class Document:
    doc_type: DocType
    number: str  # normalised: capitals, no spaces or dashes

    @property
    def masked(self) -> str:
        return mask_document(self.number)


def id_check_digit(first17: str) -> str:
    """The 18th character of a 居民身份证 (GB 11643-1999)."""
    total = sum(int(digit) * weight for digit, weight in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK[total % 11]


def _refuse(message: str, code: str) -> InvalidInput:
    return InvalidInput(message, code=code, details={"field": "doc_number"})


def _check_id_card(number: str, *, today: date, first_two: frozenset[str] = PROVINCES) -> None:
    if not re.fullmatch(r"\d{17}[\dX]", number):
        raise _refuse(
            _("An identity card number has 17 digits and a final digit or X."), "id_format"
        )
    if number[:2] not in first_two:
        raise _refuse(
            _("{prefix} is not the code of a province; check the first digits.").format(
                prefix=number[:2]
            ),
            "id_region",
        )
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise _refuse(
            _("The birth date in this number ({text}) is not a date.").format(text=number[6:14]),
            "id_birth_date",
        ) from None
    if not born.year >= OLDEST_BIRTH_YEAR or born > today:
        raise _refuse(
            _("The birth date in this number ({born}) is not plausible.").format(born=born),
            "id_birth_date",
        )
    if number[17] != id_check_digit(number[:17]):
        raise _refuse(
            _("The check digit does not match; a digit was probably mistyped."), "id_check"
        )


def normalise_document(doc_type: DocType | str, raw: str, *, today: date) -> Document:
    """Check a document number for its type; refuse it with the reason."""
    try:
        kind = DocType(doc_type)
    except ValueError:
        raise InvalidInput(
            _("Unknown document type {value!r}; use one of {types}.").format(
                value=doc_type, types=", ".join(t.value for t in DocType)
            ),
            code="doc_type",
            details={"field": "doc_type"},
        ) from None
    number = re.sub(r"[\s\-]", "", raw).upper()
    if not number:
        raise _refuse(_("The document number is empty."), "doc_number_empty")
    if kind is DocType.id_card:
        _check_id_card(number, today=today)
    elif kind is DocType.passport:
        if not re.fullmatch(r"[A-Z0-9]{5,17}", number):
            raise _refuse(_("A passport number has 5 to 17 letters and digits."), "passport_format")
    elif kind is DocType.hk_macau_permit:
        if not re.fullmatch(r"[HM]\d{8}(\d{2})?", number):
            raise _refuse(
                _("A Hong Kong or Macao permit number is H or M followed by 8 (or 10) digits."),
                "permit_format",
            )
    elif kind is DocType.taiwan_permit:
        if not re.fullmatch(r"\d{8}(\d{2})?", number):
            raise _refuse(_("A Taiwan permit number has 8 (or 10) digits."), "permit_format")
    elif kind is DocType.foreigner_prc:
        if re.fullmatch(r"[A-Z]{3}\d{12}", number):
            pass  # the card issued before 2023: nationality letters and 12 digits
        elif len(number) == 18 and number.startswith("9"):
            _check_id_card(number, today=today, first_two=PROVINCES | {"93"})  # 2023 card
        else:
            raise _refuse(
                _(
                    "A permanent residence card number has 3 letters and 12 digits, or 18 "
                    "characters starting with 9."
                ),
                "permit_format",
            )
    return Document(doc_type=kind, number=number)


def normalise_phone(raw: str) -> str:
    """A phone number in E.164 (+8613812345678); Chinese numbers may omit +86."""
    text = raw.strip()
    try:
        parsed = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException:
        raise InvalidInput(
            _("{value!r} is not a phone number.").format(value=raw),
            code="phone",
            details={"field": "phone"},
        ) from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidInput(
            _("{value!r} is not a valid phone number.").format(value=raw),
            code="phone",
            details={"field": "phone"},
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalise_name(raw: str) -> str:
    name = re.sub(r"\s+", " ", raw).strip()
    if not name or len(name) > 60 or re.search(r"[\x00-\x1f\x7f]", name):
        raise InvalidInput(
            _("A name has 1 to 60 characters."), code="name", details={"field": "name"}
        )
    return name


def mask_name(name: str) -> str:
    """张*明, 李*, J*** S****: enough for a person to recognise themselves."""
    if CJK.search(name):
        if len(name) == 1:
            return name
        if len(name) == 2:
            return name[0] + "*"
        return name[0] + "*" * (len(name) - 2) + name[-1]
    return " ".join(part[0] + "*" * (len(part) - 1) for part in name.split())


def mask_document(number: str) -> str:
    """3101**********1234: the first four and last four characters."""
    if len(number) <= 8:
        return number[:2] + "*" * max(0, len(number) - 4) + number[-2:]
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def mask_phone(e164: str) -> str:
    """138****5678 for Chinese mobiles; the country code and last four digits otherwise."""
    if e164.startswith("+86") and len(e164) == 14:
        local = e164[3:]
        return local[:3] + "****" + local[-4:]
    return e164[:3] + "*" * max(0, len(e164) - 7) + e164[-4:]
