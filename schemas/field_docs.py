"""The ``#:`` comments above model fields, as descriptions for the generated JSON Schema.

The models document each key with a ``#:`` comment, the form Sphinx reads; this turns those into
the schema's ``description``s, so an editor shows the same text the code does, without writing
it twice.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

_FIELD = re.compile(r"^\s+(\w+)\s*:")
_DOC = re.compile(r"^\s+#:\s?(.*)$")


def field_docs(model: type) -> dict[str, str]:
    """Field name -> its ``#:`` comment, from the class and its bases (nearest class wins)."""
    docs: dict[str, str] = {}
    for cls in reversed(model.__mro__):
        if cls.__module__ == "builtins" or cls.__module__.startswith("pydantic"):
            continue
        try:
            lines = inspect.getsource(cls).splitlines()
        except (OSError, TypeError):
            continue
        pending: list[str] = []
        for line in lines:
            doc = _DOC.match(line)
            if doc:
                pending.append(doc.group(1).strip())
                continue
            field = _FIELD.match(line)
            if field and pending:
                docs[field.group(1)] = " ".join(pending).replace("``", "`")
            pending = []
    return docs


def describe(schema: dict[str, Any], models: dict[str, type], root: type) -> None:
    """Add each property's description from its model's comments, where it has none."""
    targets = [(schema, root)] + [
        (definition, models[name])
        for name, definition in schema.get("$defs", {}).items()
        if name in models
    ]
    for definition, model in targets:
        docs = field_docs(model)
        for name, prop in definition.get("properties", {}).items():
            # The models' aliases (``sources``) name the same field.
            key = name if name in docs else _by_alias(model, name)
            if key in docs and isinstance(prop, dict):
                prop.setdefault("description", docs[key])


def _by_alias(model: type, alias: str) -> str:
    fields: dict[str, Any] = getattr(model, "model_fields", {})
    for name, info in fields.items():
        if getattr(info, "alias", None) == alias:
            return name
    return alias
