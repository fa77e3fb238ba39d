"""The one list of hostile strings every place that shows user text is tested with, and the check.

`check_inert(html, payload)` parses a rendered fragment with html.parser and fails when the
payload became markup: a script/svg/img/iframe/textarea element, an on* attribute, a javascript:
URL, or a tag or attribute that the same renderer does not produce for a harmless string. It also
checks the payload is still there as text (after the renderer's documented clean-up: bidi controls
removed, long words cut).
"""

from __future__ import annotations

from html.parser import HTMLParser

RLO = "\u202e"
PAYLOADS: dict[str, str] = {
    "script": "<script>alert(1)</script>",
    "img-onerror": "<img src=x onerror=alert(1)>",
    "svg-breakout": '"><svg onload=alert(1)>',
    "javascript-url": "javascript:alert(1)",
    "rlo": f"invoice{RLO}fdp.exe",
    "long-token": "A" * 10_000,
    "empty": "",
    "template": "{{7*7}}",
    "textarea-breakout": "</textarea><script>",
    "attr-breakout": "' onmouseover='alert(1)",
}
HARMLESS = "plain words"
# Where a payload cannot be stored (empty names, labels with ',' or longer than 64 characters), the app must
# refuse it with a message instead; tests use these to pick the payloads a given field accepts.
NON_EMPTY = {k: v for k, v in PAYLOADS.items() if v}
SHORT = {k: v for k, v in NON_EMPTY.items() if len(v) <= 64}
XSS, TWIN = "xss", "twin"  # the dataset full of payloads, and its harmless twin (see conftest.xss_world)


def twin_of(payload: str, key: str) -> str:
    """A harmless string standing in for a payload (as long, so cut-offs and notices match)."""
    return ("w" * len(payload)) if len(payload) > 200 else f"{HARMLESS} {key}"


DANGEROUS_TAGS = {"script", "svg", "img", "iframe", "object", "embed", "textarea", "math", "form", "base", "link",
                  "meta"}
BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


class Fragment(HTMLParser):
    """Tags with their attribute names, attribute values and the text of a fragment."""

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, tuple[str, ...]]] = []
        self.values: list[tuple[str, str]] = []
        self.text: list[str] = []
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, tuple(sorted(name for name, _ in attrs))))
        self.values += [(name, value or "") for name, value in attrs]

    handle_startendtag = handle_starttag

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    @property
    def shape(self) -> set[tuple[str, tuple[str, ...]]]:
        return set(self.tags)

    @property
    def all_text(self) -> str:
        return "".join(self.text)


def visible_form(payload: str, *, strip_bidi: bool = False, max_chars: int | None = None) -> str:
    """What a renderer may legitimately turn the payload into: bidi controls dropped, a cut-off prefix."""
    text = "".join(ch for ch in payload if ch not in BIDI) if strip_bidi else payload
    if max_chars is not None and len(text) > max_chars:
        text = text[: max(1, max_chars - 1)]
    return text


def check_inert(markup: str, payload: str, *, baseline: str | None = None, strip_bidi: bool = False,
                max_chars: int | None = None, expect_text: bool = True) -> None:
    """Fail unless `payload` in `markup` is text only (see the module docstring).

    baseline: the same renderer's output for HARMLESS text; the payload may not add a tag or an
    attribute it does not have. max_chars: the renderer cuts text to this length (a prefix must show).
    """
    frag = Fragment(markup)
    for tag, attrs in frag.tags:
        assert tag not in DANGEROUS_TAGS, f"<{tag}> in the output: {markup[:300]!r}"
        assert not any(a.startswith("on") for a in attrs), f"event handler attribute {attrs} on <{tag}>"
    for name, value in frag.values:
        assert "javascript:" not in value.replace(" ", "").lower(), f"{name}={value!r} is a javascript: URL"
    if baseline is not None:
        extra = frag.shape - Fragment(baseline).shape
        assert not extra, f"the payload added markup {sorted(extra)} (not in the output for harmless text)"
    if expect_text and payload:
        shown = visible_form(payload, strip_bidi=strip_bidi, max_chars=max_chars)
        text = frag.all_text if not strip_bidi else "".join(ch for ch in frag.all_text if ch not in BIDI)
        assert shown in text, f"the payload {shown[:60]!r} is not shown as text in {markup[:300]!r}"
