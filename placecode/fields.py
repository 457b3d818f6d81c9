"""Field types shared by the API models: as strict as the schema they publish, no stricter.

- Text is one line without control characters. Names and addresses come from the public
  and travel into pages, exports and other systems, and PostgreSQL refuses NUL outright;
  the schema says so with a pattern clients can read.
- Whole numbers are what JSON Schema calls integers: 3 and 3.0, never "3" or true.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, StringConstraints

ONE_LINE = r"^[^\x00-\x1f\x7f]*$"


def one_line(max_length: int, min_length: int = 1) -> StringConstraints:
    """Constraints for a single line of text of bounded length."""
    return StringConstraints(min_length=min_length, max_length=max_length, pattern=ONE_LINE)


def _json_integer(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# Put it after any Field(ge=..., le=...) in the Annotated list, so that the bounds still
# reach the published schema.
JSON_INTEGER = BeforeValidator(_json_integer)

Line80 = Annotated[str, one_line(80)]
Line120 = Annotated[str, one_line(120)]
# Several lines (a reason, a note): line breaks and tabs, but no other control characters.
TEXT_BLOCK = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"


def text_block(max_length: int, min_length: int = 1) -> StringConstraints:
    """Constraints for free text of bounded length that may span lines."""
    return StringConstraints(
        min_length=min_length, max_length=max_length, pattern=TEXT_BLOCK, strip_whitespace=True
    )
