"""Secret references in the configuration: ``{env: NAME}``, ``{file: PATH}`` or an inline string.

A reference is resolved while the configuration is validated, with the environment and the config
file's directory taken from the validation context (:func:`schemas.config.parse` passes them), and
becomes a :class:`Secret`, which never shows its value: not in ``repr``, ``str``, errors or a
serialized model.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    PlainValidator,
    ValidationInfo,
    WithJsonSchema,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

MASK = "**********"


#: The JSON Schema of a secret reference.
SECRET_REF_SCHEMA: dict[str, Any] = {
    "description": "A secret: inline text (development only), {env: NAME} or {file: PATH} "
    "(relative to the config file). Never printed.",
    "oneOf": [
        {"type": "string", "minLength": 1},
        {
            "type": "object",
            "properties": {"env": {"type": "string", "minLength": 1}},
            "required": ["env"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "properties": {"file": {"type": "string", "minLength": 1}},
            "required": ["file"],
            "additionalProperties": False,
        },
    ],
}


class Secret:
    """A secret value that never prints itself: ``repr`` and ``str`` are masked."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{MASK}')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.with_info_plain_validator_function(
            _resolve,
            serialization=core_schema.plain_serializer_function_ser_schema(lambda _: MASK),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return dict(SECRET_REF_SCHEMA)


class SecretContext:
    """Where references are resolved from: the environment and the config file's directory."""

    def __init__(self, env: Mapping[str, str] | None = None, base_dir: Path | None = None) -> None:
        self.env = os.environ if env is None else env
        self.base_dir = base_dir or Path.cwd()


def _invalid(reason: str) -> PydanticCustomError:
    return PydanticCustomError("config", reason)


def _resolve(ref: Any, info: ValidationInfo) -> Secret:
    if isinstance(ref, Secret):
        return ref
    context = (info.context or {}).get("secrets") if isinstance(info.context, dict) else None
    if not isinstance(context, SecretContext):
        context = SecretContext()
    if isinstance(ref, str):
        value = ref
    elif isinstance(ref, dict) and set(ref) == {"env"} and isinstance(ref["env"], str):
        name = ref["env"]
        if not context.env.get(name):
            raise _invalid(f"environment variable {name} is not set or empty")
        value = context.env[name]
    elif isinstance(ref, dict) and set(ref) == {"file"} and isinstance(ref["file"], str):
        path = context.base_dir / ref["file"]
        try:
            value = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise _invalid(f"cannot read secret file {path}: {exc.strerror}") from None
    else:
        raise _invalid("must be a string, {env: NAME} or {file: PATH}")
    if not value.strip():
        raise _invalid("is empty")
    return Secret(value.strip())


def _as_text(value: Any, info: ValidationInfo) -> str:
    return _resolve(value, info).reveal()


#: A reference whose resolved value is kept as text: public keys, Kafka client settings. Where
#: it can be a password the field is hidden from ``repr``.
TextRef = Annotated[str, PlainValidator(_as_text), WithJsonSchema(SECRET_REF_SCHEMA)]
