"""The configuration's one error: the key as a path and the reason, from any validation failure."""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails


class ConfigError(Exception):
    """The configuration is invalid; the message names the key and the reason."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"config: {key}: {reason}")
        self.key = key
        self.reason = reason


def config_error(exc: ValidationError, root: type[BaseModel], sources_field: str) -> ConfigError:
    """The first of pydantic's errors as a :class:`ConfigError`, in the file's own words.

    ``sources_field`` is the list of discriminated sources, whose errors pydantic locates with
    the provider as an extra path element (``sources.0.twilio.public_url``): it is dropped.
    """
    error = exc.errors(include_url=False)[0]
    loc = list(error["loc"])
    tag: str | None = None
    if len(loc) >= 3 and loc[0] == sources_field and isinstance(loc[1], int):
        tag = str(loc.pop(2))
    kind = error["type"]
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        key = _path([*loc, "provider"])
        if kind == "union_tag_not_found":
            return ConfigError(key, "is required")
        from schemas.sources import SOURCE_MODELS

        given = error.get("ctx", {}).get("tag")
        known = ", ".join(sorted(SOURCE_MODELS))
        return ConfigError(key, f"unknown provider {given!r} (known: {known})")
    return ConfigError(_path(loc), _reason(error, _model_at(root, loc[:-1], tag), tag))


def _reason(error: ErrorDetails, model: type[BaseModel] | None, provider: str | None) -> str:
    kind, value = error["type"], error.get("input")
    if kind == "config":
        return error["msg"]
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        if model is None:
            return "unknown key"
        allowed = ", ".join(sorted(f.alias or name for name, f in model.model_fields.items()))
        if provider:
            return f"unknown key for provider {provider} (allowed: {allowed})"
        return f"unknown key (allowed: {allowed})"
    if kind in ("string_type", "string_too_short"):
        return "must be a non-empty string" if kind == "string_too_short" else "must be a string"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"must be an integer, not {value!r}"
    if kind == "literal_error":
        expected = str(error.get("ctx", {}).get("expected", ""))
        return "must be one of " + expected.replace("'", "").replace(" or ", ", ")
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"must be a mapping, not {type(value).__name__}"
    if kind in ("tuple_type", "list_type"):
        return f"must be a list, not {type(value).__name__}"
    return str(error["msg"])


def _model_at(
    root: type[BaseModel], path: list[int | str], tag: str | None
) -> type[BaseModel] | None:
    """The model that holds the last key of ``path`` (for listing its allowed keys)."""
    model: type[BaseModel] | None = root
    for part in path:
        if model is None:
            return None
        if isinstance(part, int):
            continue
        field = next((f for name, f in model.model_fields.items() if part in (name, f.alias)), None)
        model = None if field is None else _model_in(field.annotation)
        if model is None and field is not None and tag is not None:
            from schemas.sources import SOURCE_MODELS

            model = SOURCE_MODELS.get(tag)
    return model


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    found = [m for m in map(_model_in, typing.get_args(annotation)) if m is not None]
    return found[0] if len(found) == 1 else None


def _path(loc: list[int | str]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "<root>"
