"""The record as a Word document, from a DOCX template the council can replace without code.

The template is a .docx with docxtpl tags (Jinja2 in Word): ours is templates/record.docx (made by
templates/make_template.py); a council points RECORD_DOCX_TEMPLATE at its own, which is given the same
variables (bot/records/context.py; docs/records.md lists them). Rendering uses autoescape, so what
participants typed goes into the document as text: its <, & and quotes are escaped for XML, and a
`{{ ... }}` or `{% ... %}` in it is printed, never run, because Jinja2 renders a value once and does not
read it as a template. Nothing in it can become a Word field, a hyperlink or an element.
"""

from __future__ import annotations

import html
import io
from pathlib import Path
from typing import Any

from docxtpl import DocxTemplate
from jinja2 import Environment, Template
from markupsafe import Markup, escape

from dialogs.record_model import Record

from .context import context, title

DEFAULT_TEMPLATE = Path(__file__).resolve().parent / "templates" / "record.docx"
_PROPERTIES = ("author", "comments", "identifier", "language", "subject", "title")


def _finalize(value: Any) -> Any:
    """Every printed value: nothing for None, and escaped for XML here rather than by autoescape, so
    that one more character is taken care of. After rendering, docxtpl turns `{_{`, `}_}`, `{_%` and
    `%_}` anywhere in the document into `{{`, `}}`, `{%` and `%}` (its escape for literal tags in a
    template), which would change what someone typed; an underscore written as the character reference
    `&#95;` is read back as `_` when the XML is parsed, after that replacement, so it survives."""
    if value is None:
        return ""
    if isinstance(value, Markup):
        return value
    return Markup(str(escape(value)).replace("_", "&#95;"))


class _Environment(Environment):
    """Compiles each part of a template once: docxtpl hands the same XML source to `from_string` on
    every render of the same template, and compiling it is half the time of a render."""

    def __init__(self) -> None:
        super().__init__(autoescape=True, finalize=_finalize)
        self._compiled: dict[str, Template] = {}

    def from_string(self, source, globals=None, template_class=None) -> Template:
        if globals is not None or template_class is not None or not isinstance(source, str):
            return super().from_string(source, globals, template_class)
        if (compiled := self._compiled.get(source)) is None:
            if len(self._compiled) >= 64:  # a handful of templates in one process; never unbounded
                self._compiled.clear()
            compiled = self._compiled[source] = super().from_string(source)
        return compiled


_ENVIRONMENT = _Environment()


def template_path(template: Path | None = None) -> Path:
    """The template to use: the one given, else RECORD_DOCX_TEMPLATE, else ours."""
    if template is not None:
        return template
    from bot.config import load_settings

    return load_settings().record_docx_template or DEFAULT_TEMPLATE


def render_docx(record: Record, template: Path | None = None) -> bytes:
    """The record as a .docx, made from `template` (or the configured or default one)."""
    doc = DocxTemplate(template_path(template))
    doc.render(context(record), jinja_env=_ENVIRONMENT, autoescape=True)
    # docxtpl renders the document's properties (title, subject...) as templates too, escaped for XML
    # although python-docx escapes them again: read them back as text. The title is ours when the
    # template has none, so a screen reader and the file's properties name the case, never a child.
    props = doc.docx.core_properties
    for name in _PROPERTIES:
        setattr(props, name, html.unescape(getattr(props, name) or ""))
    if not props.title:
        props.title = title(record)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
