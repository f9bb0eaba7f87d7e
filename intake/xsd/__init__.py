"""The official ISO 20022 XML schemas kravsak validates against (see SOURCES.md for their origin)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from lxml import etree

HERE = Path(__file__).resolve().parent


def path(message: str) -> Path:
    """The XSD of a message identifier such as "camt.054.001.08"."""
    return HERE / f"{message}.xsd"


def available(message: str) -> bool:
    return path(message).is_file()


@cache
def schema(message: str) -> etree.XMLSchema:
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.XMLSchema(etree.parse(str(path(message)), parser))
