"""Field types the configuration models share."""

from __future__ import annotations

from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema


class Between:
    """``Annotated[int, Between(low, high)]``: a whole number in ``low..high``, never a boolean.

    Text of digits is taken (environment overrides arrive as text). The error states the range,
    or ``reason`` when a field has a better way to say it.
    """

    def __init__(self, low: int, high: int, *, reason: str | None = None) -> None:
        self.low = low
        self.high = high
        self.reason = reason

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_before_validator_function(
            self._not_bool,
            core_schema.no_info_after_validator_function(self._check, handler(source)),
        )

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "integer", "minimum": self.low, "maximum": self.high}

    def _not_bool(self, value: Any) -> Any:
        if isinstance(value, bool):
            raise PydanticCustomError("config", self.reason or "must be an integer")
        return value

    def _check(self, value: int) -> int:
        if not self.low <= value <= self.high:
            raise PydanticCustomError(
                "config",
                self.reason or "{value} is outside {low}..{high}",
                {"value": value, "low": self.low, "high": self.high},
            )
        return value
