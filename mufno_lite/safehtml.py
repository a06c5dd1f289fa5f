"""What the course site lets through from a notebook: one allowlist, applied by a real sanitiser.

A notebook's markdown, its HTML outputs and its highlighted code come from data (a notebook file,
a trace name from a shared store), so the site (``book.py``) sanitises them with nh3 (the Python
binding of the Rust sanitiser *ammonia*), never with a regex:

* tags: ordinary text, lists, tables, images, code, headings; no ``<script>``, ``<style>``,
  ``<iframe>``, forms or SVG (``<script>`` and ``<style>`` are dropped with their content);
* attributes: ``class``, ``id``, ``title`` and each tag's own (``href``, ``src``, spans); no event
  handlers (``onerror``…) and no ``style``;
* links: http(s), mailto and relative ones; an image may also be a ``data:image/…`` URI; a
  ``javascript:`` (or any other) scheme is removed.

Math stays as its text (``$…$``, with ``<`` as ``&lt;``), which is what MathJax reads.
:func:`script_json` writes JSON that is safe inside ``<script>`` (``<``, ``>``, ``&`` and the
line separators as ``\\u`` escapes, so neither ``</script>`` nor ``<!--`` can occur) and
:func:`href` turns a file name into a quoted, escaped link target.

>>> clean_html('<p onclick="x()">$a &lt; b$<script>window.__pwned=1</script></p>')
'<p>$a &lt; b$</p>'
>>> clean_html('<a href="javascript:alert(1)">x</a><img src="x" onerror="alert(1)">')
'<a rel="noopener noreferrer">x</a><img src="x">'
>>> script_json({"name": "</script><!--"})
'{"name": "\\\\u003c/script\\\\u003e\\\\u003c!--"}'
>>> href('01_a "b".html')
'01_a%20%22b%22.html'
"""
from __future__ import annotations

import html
import json
from urllib.parse import quote

__all__ = ["clean_html", "script_json", "href", "text"]

_TAGS = {"a", "abbr", "b", "blockquote", "br", "caption", "code", "col", "colgroup", "dd", "del", "details", "div",
         "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd",
         "li", "mark", "ol", "p", "pre", "q", "s", "samp", "small", "span", "strong", "sub", "summary", "sup", "table",
         "tbody", "td", "tfoot", "th", "thead", "tr", "tt", "u", "ul", "var", "wbr"}
_ATTRIBUTES = {"*": {"class", "id", "title", "lang", "dir", "align"}, "a": {"href"}, "img": {"src", "alt", "width", "height"},
               "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan", "scope"}, "ol": {"start"}, "table": {"border"},
               "col": {"span"}, "colgroup": {"span"}}
_SCHEMES = {"http", "https", "mailto", "data"}
_IMAGE_DATA = ("data:image/png;", "data:image/jpeg;", "data:image/gif;", "data:image/webp;")


def _attribute(tag: str, attr: str, value: str):
    """Data URIs only as images (never SVG, which could carry script, never as a link)."""
    if attr in ("href", "src") and value.strip().lower().startswith("data:"):
        return value if (tag, attr) == ("img", "src") and value.strip().lower().startswith(_IMAGE_DATA) else None
    return value


def clean_html(fragment) -> str:
    """``fragment`` (str or bytes) with everything outside the site's allowlist removed (see the module)."""
    import nh3

    fragment = fragment.decode("utf-8", "replace") if isinstance(fragment, bytes) else str(fragment)
    return nh3.clean(fragment, tags=_TAGS, clean_content_tags={"script", "style"}, attributes=_ATTRIBUTES,
                     attribute_filter=_attribute, url_schemes=_SCHEMES, link_rel="noopener noreferrer",
                     strip_comments=True)


def script_json(value) -> str:
    """JSON for inside a ``<script>`` element: ``<``, ``>``, ``&``, U+2028 and U+2029 escaped."""
    text = json.dumps(value, allow_nan=True)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


def href(name: str) -> str:
    """A file name as a relative link target: percent-quoted, so it cannot leave the attribute or be a scheme."""
    return html.escape(quote(name, safe=""), quote=True)


def text(value) -> str:
    """Text for HTML content or an attribute value (``&``, ``<``, ``>`` and quotes escaped)."""
    return html.escape(str(value), quote=True)
