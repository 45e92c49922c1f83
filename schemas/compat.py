"""Breaking-change detection between two versions of a published JSON Schema.

The rules (``schemas/README.md``) protect two readers at once: a consumer that reads events
written under the new schema with code written for the old one, and a consumer that reads old
events, still on the topic, with code for the new one. A change is breaking when it can fail
either; consumers are tolerant readers (they ignore unknown properties, types and enum values),
so additions are not. :func:`breaking_changes` compares the keywords the published schemas use:

- ``type``: any change (narrowed: old events fail; widened, or the constraint removed:
  consumers get a value they do not expect). ``integer`` -> ``number`` counts as widened.
- ``properties``: a property removed (renamed is removed plus added) is breaking; a new optional
  property is not; a new *required* one is.
- ``required``: a property newly required (old events lack it) or no longer required (new events
  may lack it) is breaking.
- ``enum`` / ``const``: a value removed is breaking; a value added is not (tolerant readers).
- ``additionalProperties``: tightened (``false``, or a schema where any was allowed) is breaking;
  loosened is not; two schemas are compared.
- ``minLength``, ``minimum``, ``minItems``, ... raised or added, ``max*`` lowered or added,
  ``pattern`` or ``format`` added or changed: breaking (a changed pattern cannot be proven wider).
- ``items``, ``propertyNames`` and ``oneOf``/``anyOf``/``allOf`` of the same length are compared
  part by part; a different number of alternatives is breaking.
- Annotations (``title``, ``description``, ``$comment``, ``examples``, ``default``,
  ``deprecated``, ``version``, ``$id``, ``$schema``) never are. Any other keyword that changed
  is reported as breaking: what the detector cannot prove compatible, it does not pass.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_VERSION = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")
_MAJOR_IN_ID = re.compile(r"\.v([1-9][0-9]*)\.schema\.json$")

_ANNOTATIONS = frozenset(
    {
        "title",
        "description",
        "$comment",
        "examples",
        "default",
        "deprecated",
        "version",
        "$id",
        "$schema",
        "contentEncoding",
        "contentMediaType",
    }
)
_LOWER_BOUNDS = ("minLength", "minimum", "exclusiveMinimum", "minItems", "minProperties")
_UPPER_BOUNDS = ("maxLength", "maximum", "exclusiveMaximum", "maxItems", "maxProperties")
_COMBINATIONS = ("oneOf", "anyOf", "allOf")
#: Compared in the same direction. (``not`` is not: a wider ``not`` accepts less.)
_SUBSCHEMAS = ("items", "propertyNames")
_HANDLED = frozenset(
    {
        "type",
        "properties",
        "required",
        "enum",
        "const",
        "additionalProperties",
        "pattern",
        "format",
        *_LOWER_BOUNDS,
        *_UPPER_BOUNDS,
        *_COMBINATIONS,
        *_SUBSCHEMAS,
    }
)


@dataclass(frozen=True, slots=True)
class Change:
    """One breaking difference: where (a JSON pointer into the schema) and what."""

    at: str
    what: str

    def __str__(self) -> str:
        return f"{self.at}: {self.what}"


def breaking_changes(old: Any, new: Any) -> list[Change]:
    """Every breaking difference from schema ``old`` to schema ``new`` (empty: compatible)."""
    found: list[Change] = []
    _compare(old, new, "#", found)
    return found


def _compare(old: Any, new: Any, at: str, found: list[Change]) -> None:
    old, new = _as_object(old), _as_object(new)
    if old is None:  # ``false``: nothing was valid here, so nothing can break
        return
    if new is None:
        found.append(Change(at, "now accepts nothing (false)"))
        return
    _types(old, new, at, found)
    _values(old, new, at, found)
    _objects(old, new, at, found)
    _bounds(old, new, at, found)
    for keyword in _SUBSCHEMAS:
        if keyword in old or keyword in new:
            _compare(old.get(keyword, True), new.get(keyword, True), f"{at}/{keyword}", found)
    for keyword in _COMBINATIONS:
        _combination(keyword, old.get(keyword), new.get(keyword), at, found)
    for keyword in sorted((old.keys() | new.keys()) - _HANDLED - _ANNOTATIONS):
        if old.get(keyword) != new.get(keyword):
            found.append(Change(f"{at}/{keyword}", "changed; not a keyword the detector compares"))


def _as_object(schema: Any) -> dict[str, Any] | None:
    """A schema as an object; ``true`` is ``{}``, ``false`` is None."""
    if schema is True:
        return {}
    if schema is False:
        return None
    if not isinstance(schema, dict):
        raise TypeError(f"not a JSON Schema: {schema!r}")
    return schema


def _type_set(schema: dict[str, Any]) -> set[str] | None:
    kind = schema.get("type")
    if kind is None:
        return None
    return {kind} if isinstance(kind, str) else set(kind)


def _types(old: dict[str, Any], new: dict[str, Any], at: str, found: list[Change]) -> None:
    before, after = _type_set(old), _type_set(new)
    if before == after:
        return
    if after is None:
        found.append(Change(f"{at}/type", "constraint removed (widened to any type)"))
        return
    if before is None:
        found.append(Change(f"{at}/type", f"narrowed to {sorted(after)}"))
        return
    lost = {k for k in before - after if not (k == "integer" and "number" in after)}
    if lost:
        found.append(Change(f"{at}/type", f"no longer accepts {sorted(lost)}"))
    gained = after - before
    if gained:
        found.append(Change(f"{at}/type", f"widened to also {sorted(gained)}"))


def _allowed_values(schema: dict[str, Any]) -> list[Any] | None:
    if "const" in schema:
        return [schema["const"]]
    enum = schema.get("enum")
    return list(enum) if enum is not None else None


def _values(old: dict[str, Any], new: dict[str, Any], at: str, found: list[Change]) -> None:
    before, after = _allowed_values(old), _allowed_values(new)
    if after is None:
        return
    if before is None:
        found.append(Change(f"{at}/enum", "values restricted to an enumeration"))
        return
    removed = [value for value in before if value not in after]
    if removed:
        found.append(Change(f"{at}/enum", f"value(s) removed: {removed}"))


def _objects(old: dict[str, Any], new: dict[str, Any], at: str, found: list[Change]) -> None:
    old_props: dict[str, Any] = old.get("properties", {})
    new_props: dict[str, Any] = new.get("properties", {})
    old_required, new_required = set(old.get("required", ())), set(new.get("required", ()))
    for name in old_props:
        if name not in new_props:
            found.append(Change(f"{at}/properties/{name}", "removed (or renamed)"))
        else:
            _compare(old_props[name], new_props[name], f"{at}/properties/{name}", found)
    for name in sorted(new_required - old_required):
        what = "new required property" if name not in old_props else "became required"
        found.append(Change(f"{at}/required/{name}", what))
    for name in sorted(old_required - new_required):
        found.append(Change(f"{at}/required/{name}", "no longer required"))
    _additional(old, new, at, found)


def _additional(old: dict[str, Any], new: dict[str, Any], at: str, found: list[Change]) -> None:
    before = old.get("additionalProperties", True)
    after = new.get("additionalProperties", True)
    where = f"{at}/additionalProperties"
    if before is False or after is True or before == after:
        return
    if after is False:
        found.append(Change(where, "tightened to false"))
    elif before is True:
        found.append(Change(where, "tightened to a schema"))
    else:
        _compare(before, after, where, found)


def _bounds(old: dict[str, Any], new: dict[str, Any], at: str, found: list[Change]) -> None:
    for keyword in _LOWER_BOUNDS:
        if keyword in new and (keyword not in old or new[keyword] > old[keyword]):
            found.append(Change(f"{at}/{keyword}", f"raised to {new[keyword]}"))
    for keyword in _UPPER_BOUNDS:
        if keyword in new and (keyword not in old or new[keyword] < old[keyword]):
            found.append(Change(f"{at}/{keyword}", f"lowered to {new[keyword]}"))
    for keyword in ("pattern", "format"):
        if keyword in new and old.get(keyword) != new[keyword]:
            found.append(Change(f"{at}/{keyword}", f"added or changed to {new[keyword]!r}"))


def _combination(
    keyword: str, old: list[Any] | None, new: list[Any] | None, at: str, found: list[Change]
) -> None:
    if old is None and new is None:
        return
    if old is None or new is None or len(old) != len(new):
        found.append(Change(f"{at}/{keyword}", "alternatives added or removed"))
        return
    for index, (before, after) in enumerate(zip(old, new, strict=True)):
        _compare(before, after, f"{at}/{keyword}/{index}", found)


def version(schema: Mapping[str, Any]) -> tuple[int, int, int]:
    """The schema's ``version`` (``"1.2.0"``) as numbers; ValueError when it has none."""
    found = _VERSION.fullmatch(str(schema.get("version", "")))
    if found is None:
        raise ValueError(f"{schema.get('$id')}: version {schema.get('version')!r} is not x.y.z")
    major, minor, patch = (int(part) for part in found.groups())
    return major, minor, patch


def release_problems(
    released: Mapping[str, Mapping[str, Any]], current: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """What keeps ``current`` (schemas by ``$id``) from following ``released`` by the rules:
    every released schema is still published unless it was marked ``deprecated``; a changed
    schema has a higher version; a breaking change comes as a new major (a new file and
    ``$id``), never under the old identifier."""
    problems: list[str] = []
    for uri, schema in current.items():
        major = _MAJOR_IN_ID.search(uri)
        try:
            if major is None or version(schema)[0] != int(major.group(1)):
                problems.append(
                    f"{uri}: version {schema.get('version')!r} is not of its $id's major"
                )
        except ValueError as exc:
            problems.append(str(exc))
    for uri, before in released.items():
        after = current.get(uri)
        if after is None:
            if before.get("deprecated") is not True:
                problems.append(f"{uri}: removed without being deprecated in a release first")
            continue
        if after == before:
            continue
        if version(after) <= version(before):
            problems.append(
                f"{uri}: changed since the release but version {after.get('version')} is not "
                f"higher than {before.get('version')}"
            )
        problems.extend(
            f"{uri}: breaking change {change}; publish it as a new major (a new file and $id)"
            for change in breaking_changes(before, after)
        )
    return problems
