"""The shared page style (base.html) meets WCAG 2.2 contrast: the focus ring (≥ 3:1, 1.4.11 /
2.4.13) on white, on the page and on the blue button, and the success notice's text (≥ 4.5:1)."""

from __future__ import annotations

import re
from pathlib import Path

import idplus.ui

BASE = (Path(idplus.ui.__file__).parent / "templates" / "base.html").read_text()
_SHEET = BASE.split('<style nonce="{{ csp_nonce }}">', 1)[1].split("</style>", 1)[0]
STYLE = re.sub(r"/\*.*?\*/", "", _SHEET, flags=re.S)
WHITE = "#ffffff"


def _rule(selector: str) -> str:
    """The declarations of the first rule whose selector list holds `selector`."""
    for selectors, body in re.findall(r"([^{}]+)\{([^}]*)\}", STYLE):
        if selector in [s.strip() for s in selectors.split(",")]:
            return str(body)
    raise AssertionError(f"no rule for {selector}")


def _color(body: str, prop: str) -> str:
    found = re.search(rf"(?:^|[;\s]){prop}:[^;]*?(#[0-9a-fA-F]{{3,6}})\b", body)
    assert found, f"no {prop} colour in {body!r}"
    return found.group(1)


def _luminance(color: str) -> float:
    digits = color.lstrip("#")
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    channels = [int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_contrast_matches_wcag_reference_values() -> None:
    assert round(contrast("#000000", "#ffffff"), 1) == 21.0
    assert round(contrast("#ffbf47", "#ffffff"), 2) == 1.64  # the old focus ring


def test_focus_ring_stands_out_on_white_on_the_page_and_on_the_blue_button() -> None:
    focus = _rule("button:focus-visible")
    ring, inner = _color(focus, "outline"), _color(focus, "box-shadow")
    page, button = _color(_rule("body"), "background"), _color(_rule("button"), "background")
    assert contrast(ring, WHITE) >= 3
    assert contrast(ring, page) >= 3
    # The light inner ring sits between the button and the dark ring.
    assert contrast(inner, button) >= 3
    assert contrast(ring, inner) >= 3
    for element in ("a", "input", "select"):
        assert _rule(f"{element}:focus-visible") == focus


def test_success_notice_is_readable_and_not_styled_as_an_error() -> None:
    notice, error = _rule(".notice"), _rule(".error")
    text = _color(_rule("body"), "color")
    assert contrast(text, _color(notice, "background")) >= 4.5
    border = _color(notice, "border-left").lstrip("#")
    red, green, blue = (int(border[i : i + 2], 16) for i in (0, 2, 4))
    assert green > red and green > blue
    assert _color(notice, "border-left") != _color(error, "border-left")
