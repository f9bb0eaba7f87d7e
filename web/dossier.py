"""The case dossier as one self-contained HTML page (``templates/dossier.html``, Jinja2 with
autoescaping): what ``projections.dossier.build`` returns, laid out for a complaints board. No
JavaScript, no external files — the page opens offline and prints as it shows."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

_ENV = Environment(
    loader=PackageLoader("web", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

SEVERITY_WORDS = {"breach": ("breach", "breaches"), "warning": ("warning", "warnings"), "info": ("info", "infos")}


def count(n: int, severity: str) -> str:
    """``1 breach``, ``3 warnings``, ``0 infos``."""
    one, many = SEVERITY_WORDS[severity]
    return f"{n} {one if n == 1 else many}"


_ENV.filters["count"] = count


def render_html(dossier: dict[str, Any]) -> str:
    return _ENV.get_template("dossier.html").render(d=dossier)
