"""Text from data meets HTML here: escaped where it is data, sanitised where it is markup.

A child's answer, a wave code, a codebook label or a counts file's ``source`` column
is *data*: it must reach the report as the text it is, never as markup that a
browser would run or lay out. Two kinds of function keep it so:

* **escaping**, where data is put into the Markdown or HTML of a report:
  :func:`plain_text` (control and direction characters removed, whitespace
  collapsed, length capped), :func:`html_text` for HTML, :func:`md_text` for
  Markdown text, :func:`md_list` for a bulleted list of sentences and
  :func:`quote_html` for a quotation;
* **sanitising** of the whole exported page, where markup is intended
  (:func:`sanitize_html`): an allow-list of the tags and attributes the reports
  use, with ``nh3`` (the Rust ``ammonia`` sanitiser). Whatever escaping missed is
  cut here: scripts and styles with their content, event handlers,
  ``javascript:`` links, frames, forms, images other than embedded PNG.

>>> md_text("<script>alert(1)</script> *bold*")
'&lt;script&gt;alert(1)&lt;/script&gt; \\\\*bold\\\\*'
>>> quote_html("Искам да\\nсе прибера у дома \\u202e!")
'<blockquote><p>Искам да се прибера у дома !</p></blockquote>'
>>> sanitize_html('<p onclick="x()">Здравей<script>alert(1)</script></p>')
'<p>Здравей</p>'
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable

__all__ = [
    "QUOTE_MAX_CHARS",
    "plain_text",
    "html_text",
    "md_text",
    "md_list",
    "quote_html",
    "sanitize_html",
]

#: Longest quotation a report prints, in characters (longer answers are cut with "…").
QUOTE_MAX_CHARS: int = 400

_WHITESPACE = re.compile(r"\s+")
#: Characters Markdown gives a meaning to inside a line (escaped with a backslash).
_MARKDOWN_INLINE = re.compile(r"([\\`*_\[\]{}#|~!])")
#: What would start a list, a heading or a rule at the start of a line.
_MARKDOWN_LINE_START = re.compile(r"^(\s*)([-+=]|\d+(?=[.)]))")


def plain_text(value: object, max_chars: int | None = None) -> str:
    """*value* as one line of plain text: no control or format characters, capped.

    Unicode is normalised (NFC); control characters (category Cc) become spaces;
    format characters (Cf: bidirectional overrides and isolates, zero-width
    joiners, soft hyphens) are removed, so text cannot reverse or hide itself;
    runs of white space become one space. A text longer than *max_chars* is cut
    at a word boundary where one is near, and ends with "…".

    >>> plain_text("  a\\tb\\n\\nc\\u200b  ")
    'a b c'
    >>> plain_text("едно две три четири", max_chars=10)
    'едно две…'
    """
    text = unicodedata.normalize("NFC", "" if value is None else str(value))
    text = "".join(
        " " if unicodedata.category(ch) == "Cc" else ch
        for ch in text
        if unicodedata.category(ch) != "Cf"
    )
    text = _WHITESPACE.sub(" ", text).strip()
    if max_chars is not None and len(text) > max_chars:
        cut = text[: max(max_chars - 1, 1)]
        space = cut.rfind(" ")
        if space >= max_chars * 0.6:
            cut = cut[:space]
        text = cut.rstrip() + "…"
    return text


def html_text(value: object, max_chars: int | None = None) -> str:
    """:func:`plain_text` escaped for HTML (``<``, ``>``, ``&`` and quotes).

    >>> html_text('<img src=x onerror="alert(1)">')
    '&lt;img src=x onerror=&quot;alert(1)&quot;&gt;'
    """
    return html.escape(plain_text(value, max_chars), quote=True)


def md_text(value: object, max_chars: int | None = None) -> str:
    """:func:`plain_text` that Markdown shows as it is: no emphasis, links, lists or HTML.

    >>> md_text("[click](javascript:alert(1))")
    '\\\\[click\\\\](javascript:alert(1))'
    >>> md_text("- not a list")
    '\\\\- not a list'
    """
    text = _MARKDOWN_INLINE.sub(r"\\\1", plain_text(value, max_chars))
    text = _MARKDOWN_LINE_START.sub(_escape_line_start, text)
    return html.escape(text, quote=False)


def _escape_line_start(match: re.Match[str]) -> str:
    """``- x`` -> ``\\- x``; ``1. x`` -> ``1\\. x`` (a digit cannot be escaped, its dot can)."""
    indent, marker = match.group(1), match.group(2)
    return f"{indent}\\{marker}" if not marker.isdigit() else f"{indent}{marker}\\"


def md_list(sentences: Iterable[object]) -> str:
    """A Markdown bulleted list, each sentence escaped with :func:`md_text`.

    >>> print(md_list(["едно", "<b>две</b>"]))
    - едно
    - &lt;b&gt;две&lt;/b&gt;
    """
    return "\n".join(f"- {md_text(sentence)}" for sentence in sentences)


def quote_html(value: object, max_chars: int = QUOTE_MAX_CHARS) -> str:
    """A quotation as an HTML block: plain text, escaped, at most *max_chars* characters.

    Written as HTML (not as Markdown ``>``), so nothing in the quote can close
    the block, start a heading or a link.

    >>> quote_html("</blockquote><h1>Фалшиво заглавие</h1>")
    '<blockquote><p>&lt;/blockquote&gt;&lt;h1&gt;Фалшиво заглавие&lt;/h1&gt;</p></blockquote>'
    """
    return f"<blockquote><p>{html_text(value, max_chars)}</p></blockquote>"


# ---- sanitising the exported page ----------------------------------------------------------

#: Tags the reports are made of (nbconvert's "basic" template, Markdown, tables, the brief).
REPORT_TAGS: frozenset[str] = frozenset(
    {
        "a", "b", "blockquote", "br", "caption", "code", "div", "em", "figure", "figcaption",
        "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "li", "ol", "p", "pre", "small",
        "span", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr",
        "ul",
    }
)  # fmt: skip

#: Tags removed together with their content (not just unwrapped).
_DROP_WITH_CONTENT = {"script", "style", "iframe", "object", "embed", "noscript", "template"}

_REPORT_ATTRIBUTES: dict[str, set[str]] = {
    "*": {"class", "id", "title", "lang"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "tr": {"style"},
}

#: The one image kind a report embeds: matplotlib figures as base64 PNG.
_PNG_DATA = re.compile(r"data:image/png;base64,[A-Za-z0-9+/=\s]*\Z")
_SAFE_HREF = re.compile(
    r"(https?://|mailto:|#|\.{0,2}/|[\w.-]+(/|\.html?|\.csv|\.json|#|\Z))", re.I
)


def _allowed_url(tag: str, attribute: str, value: str) -> str | None:
    """Keep ``src`` only for embedded PNGs and ``href`` only for web, mail and relative links."""
    if tag == "img" and attribute == "src":
        return value if _PNG_DATA.match(value) else None
    if tag == "a" and attribute == "href":
        return value if _SAFE_HREF.match(value.strip()) else None
    return value


def sanitize_html(fragment: str) -> str:
    """The HTML *fragment* with only the tags and attributes of a report left.

    Allow-list (:data:`REPORT_TAGS`): headings, paragraphs, lists, tables,
    blockquotes, links (web, mail, relative or in-page), images only as embedded
    PNG, ``class``/``id`` on any tag and ``text-align`` styles on table rows.
    ``script``, ``style``, ``iframe``, ``object`` and ``embed`` are removed with
    their content; every other unknown tag is unwrapped, keeping its text. Event
    handlers (``on…``), ``javascript:`` and other URL schemes are dropped.

    >>> sanitize_html('<a href="javascript:alert(1)">връзка</a><img src="x.svg" onerror="y">')
    '<a rel="noopener noreferrer">връзка</a><img>'
    """
    import nh3

    return nh3.clean(
        fragment,
        tags=set(REPORT_TAGS),
        clean_content_tags=_DROP_WITH_CONTENT,
        attributes=_REPORT_ATTRIBUTES,
        attribute_filter=_allowed_url,
        url_schemes={"http", "https", "mailto", "data"},
        filter_style_properties={"text-align"},
        strip_comments=True,
    )
