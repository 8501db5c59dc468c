"""Typed digits as a screenshot shows them: anti-aliased text from a font file on a coloured page."""

from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

from training.digits_sources import font_file


@lru_cache(maxsize=256)
def _font(name: str, text_px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(font_file(name)), text_px)


def typed_digit(digit: str, font: str, text_px: int, ink=(0, 0, 0), paper=(255, 255, 255),
                pad=(6, 4, 6, 4)) -> Image.Image:
    """A digit in FONTS name `font` at `text_px` pixels, ink on paper (RGB), `pad` (l, t, r, b) around the glyph → RGB."""
    face = _font(font, text_px)
    left, top, right, bottom = ImageDraw.Draw(Image.new("RGB", (1, 1))).textbbox((0, 0), digit,
                                                                                 font=face)
    pad_left, pad_top, pad_right, pad_bottom = pad
    image = Image.new("RGB", (right - left + pad_left + pad_right,
                              bottom - top + pad_top + pad_bottom), paper)
    ImageDraw.Draw(image).text((pad_left - left, pad_top - top), digit, font=face, fill=ink)
    return image
