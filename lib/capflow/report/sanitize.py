"""Sanitize published pages: every page's ``<body>`` passes a strict allowlist (nh3, the Rust ``ammonia`` cleaner).

Strings from parameters, the asset registry, catalogs or data can reach a table or a Markdown cell; nbconvert
renders them as they are. Rather than trusting each producer to escape, the exporter's output is cleaned once,
whatever produced it: only the tags and attributes a report needs survive; scripts, event handlers, ``<style>``
blocks from cell outputs, iframes, forms and ``javascript:``/``data:`` links are removed. The page head comes
from capflow's own template (trusted: CSS only, no script) and is kept.
"""

from __future__ import annotations

import re

import nh3

#: Tags a report body may contain (nbconvert's lab markup, pandas tables, Markdown output).
TAGS: frozenset[str] = frozenset({
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "col", "colgroup", "dd", "del", "details", "div",
    "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd",
    "li", "main", "mark", "ol", "p", "pre", "q", "s", "samp", "section", "small", "span", "strong", "sub",
    "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
})
#: Attributes per tag (``*``: every tag). ``style`` is kept but filtered to :data:`STYLE_PROPERTIES`.
ATTRIBUTES: dict[str, set[str]] = {
    "*": {"class", "id", "title", "lang", "dir", "style", "tabindex"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan", "align", "valign", "halign"},
    "th": {"colspan", "rowspan", "align", "valign", "halign", "scope"},
    "table": {"border"},
    "col": {"span"},
    "ol": {"start"},
}
#: CSS properties allowed in ``style`` attributes (layout and colour only: no ``url()``-taking property).
STYLE_PROPERTIES: frozenset[str] = frozenset({
    "text-align", "vertical-align", "white-space", "font-weight", "font-style", "color", "background-color",
    "width", "min-width", "max-width", "padding", "padding-left", "padding-right", "border-bottom", "border-top",
})
#: Tags removed together with their content.
DROP_WITH_CONTENT: frozenset[str] = frozenset({"script", "style", "iframe", "object", "embed", "template",
                                               "noscript", "textarea", "select", "svg", "math"})
_BODY = re.compile(r"(<body[^>]*>)(.*)(</body>)", re.DOTALL | re.IGNORECASE)


def _attribute_filter(tag: str, attr: str, value: str) -> str | None:
    """Drop links that could run code and images that are not inline pictures."""
    v = value.strip().lower()
    if attr == "href" and not v.startswith(("http://", "https://", "mailto:", "#")) and ":" in v.split("/")[0]:
        return None
    if attr == "src" and not v.startswith("data:image/"):
        return None
    return value


def clean_fragment(html: str) -> str:
    """Sanitize an HTML fragment with the report allowlist (see the module docstring)."""
    return nh3.clean(html, tags=set(TAGS), clean_content_tags=set(DROP_WITH_CONTENT),
                     attributes={k: set(v) for k, v in ATTRIBUTES.items()}, attribute_filter=_attribute_filter,
                     generic_attribute_prefixes={"data-"}, url_schemes={"http", "https", "mailto", "data"},
                     filter_style_properties=set(STYLE_PROPERTIES), link_rel="noopener noreferrer")


def sanitize_page(page: str) -> str:
    """Return ``page`` with its ``<body>`` content sanitized (the head, from capflow's template, kept).

    Raises
    ------
    ValueError
        When the page has no ``<body>`` (nothing is published unsanitized).
    """
    m = _BODY.search(page)
    if m is None:
        raise ValueError("report page has no <body>; refusing to publish it unsanitized")
    return page[:m.start(2)] + clean_fragment(m.group(2)) + page[m.end(2):]
