"""统一社会信用代码 (Unified Social Credit Code) and its GB 32100-2015 check character."""

from __future__ import annotations

from placecode.errors import InvalidInput
from placecode.i18n import _

# The 31 characters a code may use: digits and capitals without I, O, Z, S and V.
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
VALUES = {char: value for value, char in enumerate(ALPHABET)}
WEIGHTS = tuple(pow(3, position, 31) for position in range(17))
LENGTH = 18


def check_character(first17: str) -> str:
    """The 18th character that GB 32100-2015 computes from the first 17."""
    total = sum(VALUES[char] * weight for char, weight in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def normalise_uscc(raw: str) -> str:
    """Return the code in capitals, or refuse it with the reason (length, characters, check)."""
    code = raw.strip().upper()
    if len(code) != LENGTH:
        raise InvalidInput(
            _("A unified social credit code has 18 characters; this one has {n}.").format(
                n=len(code)
            ),
            code="uscc_length",
        )
    bad = sorted({char for char in code if char not in VALUES})
    if bad:
        raise InvalidInput(
            _(
                "A unified social credit code uses digits and capital letters except I, O, Z, S "
                "and V; this one contains {chars}."
            ).format(chars=" ".join(bad)),
            code="uscc_characters",
        )
    expected = check_character(code[:17])
    if code[17] != expected:
        raise InvalidInput(
            _(
                "The check character of {code} does not match (it should be {expected}); "
                "a character was probably mistyped."
            ).format(code=code, expected=expected),
            code="uscc_check",
        )
    return code
