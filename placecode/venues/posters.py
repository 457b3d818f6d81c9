"""Printable posters of venue codes: A4 PDF (one venue or a whole organisation), PNG and SVG.

One layout, in millimetres on an A4 page, drawn by three renderers, so the three formats
always agree. The Chinese font (Noto Sans SC, shipped as a wheel) is embedded in PDFs and
drawn into PNGs; the machine needs nothing but what `pip install` brought.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import escape

import pylopdf_fonts_zh_cn
import segno
from fpdf import FPDF
from PIL import Image, ImageDraw, ImageFont

FONT_PATH = Path(pylopdf_fonts_zh_cn.__file__).parent / "NotoSansSC-Regular.otf"
PAGE_W, PAGE_H = 210.0, 297.0  # A4, mm
PT = 25.4 / 72  # one typographic point in mm
PNG_DPI = 150
BRAND = (11, 92, 173)
INK = (29, 36, 48)
MUTED = (91, 101, 115)
WHITE = (255, 255, 255)
INSTRUCTION_ZH = "请使用随申办、微信或支付宝扫码登记"
INSTRUCTION_EN = "Scan with Suishenban, WeChat or Alipay to check in"


@dataclass(frozen=True)
class PosterData:
    venue_id: str
    name: str
    address: str
    street_zh: str
    street_en: str
    category_zh: str
    region_zh: str
    url: str
    version: int
    operator_note: str | None = None


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float
    color: tuple[int, int, int]


@dataclass(frozen=True)
class Text:
    y: float  # baseline, mm from the top
    size: float  # points
    text: str
    color: tuple[int, int, int] = INK


@dataclass(frozen=True)
class Code:
    x: float
    y: float
    size: float
    matrix: tuple[tuple[bool, ...], ...]
    border: int = 4  # modules of quiet zone, as the QR standard asks


Element = Box | Text | Code


@lru_cache(maxsize=32)
def _font(size_px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_PATH), size_px)


def text_width_mm(text: str, size_pt: float) -> float:
    """The printed width of `text` at `size_pt`, measured with the poster's font."""
    reference = _font(100)
    return reference.getlength(text) / 100 * size_pt * PT


def fit_lines(
    text: str, size_pt: float, width_mm: float, max_lines: int
) -> tuple[list[str], float]:
    """Wrap `text` into at most `max_lines` lines, shrinking the type until it fits."""
    size = size_pt
    while size > 8:
        lines: list[str] = []
        current = ""
        for char in text:
            if text_width_mm(current + char, size) <= width_mm:
                current += char
            else:
                lines.append(current)
                current = char
        lines.append(current)
        if len(lines) <= max_lines:
            return lines, size
        size -= 2
    return lines[:max_lines], size


def qr_matrix(url: str) -> tuple[tuple[bool, ...], ...]:
    """The QR modules for `url` at error correction M (kept, not boosted)."""
    qr = segno.make(url, error="m", boost_error=False, micro=False)
    return tuple(tuple(bool(cell & 1) for cell in row) for row in qr.matrix)


def layout(data: PosterData) -> list[Element]:
    elements: list[Element] = [
        Box(0, 0, PAGE_W, 36, BRAND),
        Text(20, 30, "场所码", WHITE),
        Text(30, 12, f"Venue code · {data.region_zh}", WHITE),
    ]
    name_lines, name_size = fit_lines(data.name, 28, PAGE_W - 30, 2)
    y = 50.0
    for line in name_lines:
        elements.append(Text(y, name_size, line))
        y += name_size * PT * 1.3
    code_size = 150.0
    code_top = y - 4
    elements.append(Code((PAGE_W - code_size) / 2, code_top, code_size, qr_matrix(data.url)))
    y = code_top + code_size + 6
    elements.append(Text(y, 18, INSTRUCTION_ZH))
    elements.append(Text(y + 8, 12, INSTRUCTION_EN, MUTED))
    y += 21
    address_lines, address_size = fit_lines(f"地址 Address：{data.address}", 12, PAGE_W - 30, 2)
    for line in address_lines:
        elements.append(Text(y, address_size, line))
        y += 6.5
    elements.append(Text(y, 12, f"{data.street_zh} {data.street_en} · {data.category_zh}"))
    y += 6.5
    elements.append(Text(y, 12, f"场所编号 Venue ID：{data.venue_id}"))
    if data.operator_note:
        note_lines, note_size = fit_lines(data.operator_note, 10, PAGE_W - 30, 1)
        elements.append(Text(y + 6, note_size, note_lines[0], MUTED))
    elements.append(
        Text(
            PAGE_H - 8,
            9,
            f"PlaceCode 场所码 · 码版本 v{data.version} · 请勿遮挡 Please keep visible",
            MUTED,
        )
    )
    return elements


def _runs(row: Sequence[bool]) -> Iterable[tuple[int, int]]:
    """(start, length) of each run of dark modules in a row."""
    column = 0
    while column < len(row):
        if row[column]:
            start = column
            while column < len(row) and row[column]:
                column += 1
            yield start, column - start
        else:
            column += 1


# --- PDF ---------------------------------------------------------------------------------


def _pdf_document() -> FPDF:
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_auto_page_break(False)
    pdf.set_margins(0, 0, 0)
    pdf.add_font("noto", fname=str(FONT_PATH))
    pdf.set_creator("PlaceCode")
    return pdf


def _draw_pdf_page(pdf: FPDF, elements: list[Element]) -> None:
    pdf.add_page()
    for element in elements:
        if isinstance(element, Box):
            pdf.set_fill_color(*element.color)
            pdf.rect(element.x, element.y, element.w, element.h, style="F")
        elif isinstance(element, Text):
            pdf.set_font("noto", size=element.size)
            pdf.set_text_color(*element.color)
            width = pdf.get_string_width(element.text)
            pdf.text((PAGE_W - width) / 2, element.y, element.text)
        else:
            # The QR as one small image (one pixel per module): crisp at any print size,
            # and far lighter than a rectangle per module.
            pdf.image(
                _code_png(element.matrix, element.border),
                element.x,
                element.y,
                element.size,
                element.size,
            )


def _code_png(matrix: tuple[tuple[bool, ...], ...], border: int) -> io.BytesIO:
    size = len(matrix) + 2 * border
    image = Image.new("1", (size, size), 1)
    pixels = image.load()
    assert pixels is not None
    for r, row in enumerate(matrix):
        for c, dark in enumerate(row):
            if dark:
                pixels[c + border, r + border] = 0
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    buffer.seek(0)
    return buffer


def poster_pdf(posters: Sequence[PosterData]) -> bytes:
    """One A4 page per venue, the font embedded."""
    pdf = _pdf_document()
    for data in posters:
        _draw_pdf_page(pdf, layout(data))
    return bytes(pdf.output())


# --- PNG ---------------------------------------------------------------------------------


def poster_png(data: PosterData, dpi: int = PNG_DPI) -> bytes:
    scale = dpi / 25.4  # pixels per mm
    image = Image.new("RGB", (round(PAGE_W * scale), round(PAGE_H * scale)), WHITE)
    draw = ImageDraw.Draw(image)
    for element in layout(data):
        if isinstance(element, Box):
            draw.rectangle(
                [
                    element.x * scale,
                    element.y * scale,
                    (element.x + element.w) * scale - 1,
                    (element.y + element.h) * scale - 1,
                ],
                fill=element.color,
            )
        elif isinstance(element, Text):
            font = _font(round(element.size * PT * scale))
            width = draw.textlength(element.text, font=font)
            draw.text(
                ((image.width - width) / 2, element.y * scale),
                element.text,
                font=font,
                fill=element.color,
                anchor="ls",
            )
        else:
            count = len(element.matrix) + 2 * element.border
            module = element.size * scale / count
            left, top = element.x * scale, element.y * scale
            for r, row in enumerate(element.matrix):
                for start, length in _runs(row):
                    x0 = left + (start + element.border) * module
                    y0 = top + (r + element.border) * module
                    draw.rectangle(
                        [x0, y0, x0 + length * module - 1, y0 + module - 1], fill=(0, 0, 0)
                    )
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True, dpi=(dpi, dpi))
    return buffer.getvalue()


# --- SVG ---------------------------------------------------------------------------------


def _hex(color: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*color)


def poster_svg(data: PosterData) -> str:
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{PAGE_W}mm" height="{PAGE_H}mm" '
        f'viewBox="0 0 {PAGE_W} {PAGE_H}">',
        f'<rect width="{PAGE_W}" height="{PAGE_H}" fill="#ffffff"/>',
    ]
    for element in layout(data):
        if isinstance(element, Box):
            parts.append(
                f'<rect x="{element.x}" y="{element.y}" width="{element.w}" height="{element.h}" '
                f'fill="{_hex(element.color)}"/>'
            )
        elif isinstance(element, Text):
            parts.append(
                f'<text x="{PAGE_W / 2}" y="{element.y:.2f}" font-size="{element.size * PT:.2f}" '
                f'text-anchor="middle" fill="{_hex(element.color)}" font-family="Noto Sans SC, '
                f'WenQuanYi Zen Hei, PingFang SC, Microsoft YaHei, sans-serif">'
                f"{escape(element.text)}</text>"
            )
        else:
            count = len(element.matrix) + 2 * element.border
            module = element.size / count
            path = []
            for r, row in enumerate(element.matrix):
                for start, length in _runs(row):
                    path.append(
                        f"M{start + element.border} {r + element.border}h{length}v1h-{length}z"
                    )
            parts.append(
                f'<g transform="translate({element.x} {element.y}) scale({module:.5f})">'
                f'<rect width="{count}" height="{count}" fill="#ffffff"/>'
                f'<path d="{"".join(path)}" fill="#000000"/></g>'
            )
    parts.append("</svg>")
    return "".join(parts)
