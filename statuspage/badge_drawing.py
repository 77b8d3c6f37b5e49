"""A flat badge as SVG, shields.io's look: a grey label, a coloured message.

Drawn here, with no font file and no request to another host: each text's width is
estimated from a table of Verdana's advance widths at 11 px, the font the badge names
first. A character the table lacks counts as a wide one, so a badge is rather too wide than
cut off. Every text is escaped for XML, and characters XML cannot hold are dropped.
"""

from __future__ import annotations

import re
from html import escape

# Verdana's advance widths at 11 px, by the characters sharing one (rounded to 0.1 px).
_WIDTHS = {
    " ": 3.9,
    "!": 4.3,
    '"': 5.0,
    "#": 9.0,
    "$": 7.0,
    "%": 11.9,
    "&": 8.0,
    "'": 2.9,
    "()": 5.0,
    "*": 7.0,
    "+": 9.0,
    ",": 4.0,
    "-": 5.0,
    ".": 4.0,
    "/": 5.0,
    "0123456789": 7.0,
    ":;": 5.0,
    "<=>": 9.0,
    "?": 6.0,
    "@": 11.0,
    "A": 7.5,
    "B": 7.6,
    "C": 7.7,
    "D": 8.5,
    "E": 7.0,
    "F": 6.3,
    "G": 8.5,
    "H": 8.3,
    "I": 4.6,
    "J": 5.0,
    "K": 7.6,
    "L": 6.1,
    "M": 9.3,
    "N": 8.2,
    "O": 8.7,
    "P": 6.6,
    "Q": 8.7,
    "R": 7.7,
    "S": 7.5,
    "T": 6.8,
    "U": 8.1,
    "V": 7.5,
    "W": 10.9,
    "X": 7.5,
    "Y": 6.8,
    "Z": 7.5,
    "[]": 5.0,
    "\\": 5.0,
    "^": 9.0,
    "_": 7.0,
    "`": 7.0,
    "a": 6.7,
    "b": 6.8,
    "c": 5.8,
    "d": 6.8,
    "e": 6.6,
    "f": 3.8,
    "g": 6.8,
    "h": 7.0,
    "i": 3.0,
    "j": 3.8,
    "k": 6.5,
    "l": 3.0,
    "m": 10.7,
    "n": 7.0,
    "o": 6.7,
    "p": 6.8,
    "q": 6.8,
    "r": 4.7,
    "s": 5.7,
    "t": 4.3,
    "u": 7.0,
    "v": 6.5,
    "w": 9.0,
    "x": 6.5,
    "y": 6.5,
    "z": 5.8,
    "{}": 7.0,
    "|": 5.0,
    "~": 9.0,
    "·": 4.0,
    "✓✕": 8.5,
}
WIDTHS = {char: width for chars, width in _WIDTHS.items() for char in chars}
# Accented Latin letters and the like are about as wide as an "m" at most; CJK is wider.
UNLISTED = 11.0
HEIGHT = 20
PADDING = 6  # each side of each text
LABEL_COLOR = "#555"
# shields.io's named colours, darkened where white text on them fell short of WCAG AA.
COLORS = {
    "brightgreen": "#1a7f37",
    "green": "#2f7d32",
    "yellow": "#8a6100",
    "orange": "#b35900",
    "red": "#cf222e",
    "lightgrey": "#6a737d",
}
# What XML 1.0 cannot hold at all: C0 controls but tab, LF and CR; surrogates; U+FFFE/F.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def text_width(text: str) -> float:
    return sum(WIDTHS.get(char, UNLISTED) for char in text)


def clean(text: str) -> str:
    return _NOT_XML.sub("", text)


def draw(label: str, message: str, color: str) -> str:
    """The badge: `label` on grey, `message` on `color` (a name of COLORS)."""
    label, message = clean(label), clean(message)
    label_width = round(text_width(label) + 2 * PADDING)
    message_width = round(text_width(message) + 2 * PADDING)
    width = label_width + message_width
    fill = COLORS.get(color, COLORS["lightgrey"])
    spoken = escape(f"{label}: {message}")
    shown_label, shown_message = escape(label), escape(message)
    label_x, message_x = label_width / 2, label_width + message_width / 2
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{HEIGHT}" '
        f'role="img" aria-label="{spoken}"><title>{spoken}</title>'
        '<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" '
        'stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>'
        f'<clipPath id="r"><rect width="{width}" height="{HEIGHT}" rx="3" fill="#fff"/>'
        '</clipPath><g clip-path="url(#r)">'
        f'<rect width="{label_width}" height="{HEIGHT}" fill="{LABEL_COLOR}"/>'
        f'<rect x="{label_width}" width="{message_width}" height="{HEIGHT}" fill="{fill}"/>'
        f'<rect width="{width}" height="{HEIGHT}" fill="url(#s)"/></g>'
        '<g fill="#fff" text-anchor="middle" '
        'font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">'
        f'<text x="{label_x:.1f}" y="15" fill="#010101" fill-opacity=".3">{shown_label}</text>'
        f'<text x="{label_x:.1f}" y="14">{shown_label}</text>'
        f'<text x="{message_x:.1f}" y="15" fill="#010101" fill-opacity=".3">{shown_message}</text>'
        f'<text x="{message_x:.1f}" y="14">{shown_message}</text></g></svg>'
    )
