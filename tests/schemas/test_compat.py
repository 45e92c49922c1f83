"""The schema-compatibility rules (schemas/README.md): the detector, and the published schemas
checked against the last release's snapshot (schemas/json/released/{version}/)."""

from __future__ import annotations

import copy
from typing import Any

from schemas import compat, published

RELEASED = published.DIRECTORY / "released"

BASE: dict[str, Any] = {
    "$id": "https://hookgate.dev/schemas/thing.v1.schema.json",
    "version": "1.0.0",
    "type": "object",
    "required": ["id", "status"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "minLength": 1},
        "status": {"enum": ["started", "succeeded"]},
        "size": {"type": "integer", "minimum": 0},
        "model": {"type": ["string", "null"]},
        "error": {"oneOf": [{"type": "null"}, {"type": "object", "required": ["message"]}]},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "outputs": {"type": "array", "items": {"type": "object", "required": ["url"]}},
    },
}


def changed(edit: Any) -> list[str]:
    after = copy.deepcopy(BASE)
    edit(after)
    return [str(change) for change in compat.breaking_changes(BASE, after)]


def test_an_identical_schema_has_no_breaking_change() -> None:
    assert compat.breaking_changes(BASE, copy.deepcopy(BASE)) == []


def test_annotations_are_never_breaking() -> None:
    def edit(s: dict[str, Any]) -> None:
        s["description"] = "new words"
        s["version"] = "1.0.1"
        s["properties"]["id"]["examples"] = ["x"]
        s["properties"]["size"]["deprecated"] = True

    assert changed(edit) == []


def test_a_new_optional_property_is_compatible() -> None:
    assert changed(lambda s: s["properties"].update(note={"type": "string"})) == []


def test_a_new_required_property_is_breaking() -> None:
    def edit(s: dict[str, Any]) -> None:
        s["properties"]["note"] = {"type": "string"}
        s["required"].append("note")

    assert changed(edit) == ["#/required/note: new required property"]


def test_a_removed_property_is_breaking() -> None:
    assert changed(lambda s: s["properties"].pop("size")) == [
        "#/properties/size: removed (or renamed)"
    ]


def test_a_renamed_property_is_breaking() -> None:
    def edit(s: dict[str, Any]) -> None:
        s["properties"]["bytes"] = s["properties"].pop("size")

    assert changed(edit) == ["#/properties/size: removed (or renamed)"]


def test_an_optional_property_becoming_required_is_breaking() -> None:
    assert changed(lambda s: s["required"].append("size")) == ["#/required/size: became required"]


def test_a_required_property_becoming_optional_is_breaking() -> None:
    assert changed(lambda s: s["required"].remove("status")) == [
        "#/required/status: no longer required"
    ]


def test_a_narrowed_type_is_breaking() -> None:
    def edit(s: dict[str, Any]) -> None:
        s["properties"]["model"]["type"] = "string"

    assert changed(edit) == ["#/properties/model/type: no longer accepts ['null']"]


def test_a_widened_type_is_breaking() -> None:
    def edit(s: dict[str, Any]) -> None:
        s["properties"]["id"]["type"] = ["string", "null"]

    assert changed(edit) == ["#/properties/id/type: widened to also ['null']"]


def test_integer_to_number_is_widening_only() -> None:
    def edit(s: dict[str, Any]) -> None:
        s["properties"]["size"]["type"] = "number"

    assert changed(edit) == ["#/properties/size/type: widened to also ['number']"]


def test_a_removed_enum_value_is_breaking() -> None:
    assert changed(lambda s: s["properties"]["status"]["enum"].remove("started")) == [
        "#/properties/status/enum: value(s) removed: ['started']"
    ]


def test_an_added_enum_value_is_compatible() -> None:
    assert changed(lambda s: s["properties"]["status"]["enum"].append("failed")) == []


def test_additional_properties_tightened_is_breaking() -> None:
    assert changed(lambda s: s["properties"]["labels"].update(additionalProperties=False)) == [
        "#/properties/labels/additionalProperties: tightened to false"
    ]


def test_additional_properties_loosened_is_compatible() -> None:
    assert changed(lambda s: s.update(additionalProperties=True)) == []


def test_additional_properties_schemas_are_compared() -> None:
    def edit(s: dict[str, Any]) -> None:
        s["properties"]["labels"]["additionalProperties"] = {"type": "integer"}

    assert changed(edit) == [
        "#/properties/labels/additionalProperties/type: no longer accepts ['string']",
        "#/properties/labels/additionalProperties/type: widened to also ['integer']",
    ]


def test_a_raised_lower_bound_is_breaking_and_a_lowered_one_is_not() -> None:
    assert changed(lambda s: s["properties"]["id"].update(minLength=3)) == [
        "#/properties/id/minLength: raised to 3"
    ]
    assert changed(lambda s: s["properties"]["id"].update(minLength=0)) == []


def test_a_new_upper_bound_is_breaking() -> None:
    assert changed(lambda s: s["properties"]["id"].update(maxLength=64)) == [
        "#/properties/id/maxLength: lowered to 64"
    ]


def test_a_new_pattern_is_breaking() -> None:
    assert changed(lambda s: s["properties"]["id"].update(pattern="^a")) == [
        "#/properties/id/pattern: added or changed to '^a'"
    ]


def test_array_items_are_compared() -> None:
    def edit(s: dict[str, Any]) -> None:
        s["properties"]["outputs"]["items"]["required"].append("size")

    assert changed(edit) == ["#/properties/outputs/items/required/size: new required property"]


def test_an_added_alternative_is_breaking() -> None:
    def edit(s: dict[str, Any]) -> None:
        s["properties"]["error"]["oneOf"].append({"type": "string"})

    assert changed(edit) == ["#/properties/error/oneOf: alternatives added or removed"]


def test_a_keyword_the_detector_does_not_know_counts_as_breaking() -> None:
    assert changed(lambda s: s.update(dependentRequired={"size": ["id"]})) == [
        "#/dependentRequired: changed; not a keyword the detector compares"
    ]


def test_a_changed_schema_needs_a_higher_version() -> None:
    after = copy.deepcopy(BASE)
    after["properties"]["note"] = {"type": "string"}
    problems = compat.release_problems({BASE["$id"]: BASE}, {BASE["$id"]: after})
    assert problems == [f"{BASE['$id']}: changed since the release but version 1.0.0 is not "
                        "higher than 1.0.0"]  # fmt: skip
    after["version"] = "1.1.0"
    assert compat.release_problems({BASE["$id"]: BASE}, {BASE["$id"]: after}) == []


def test_a_breaking_change_under_the_same_identifier_fails_even_with_a_bump() -> None:
    after = copy.deepcopy(BASE)
    after["version"] = "1.1.0"
    del after["properties"]["size"]
    problems = compat.release_problems({BASE["$id"]: BASE}, {BASE["$id"]: after})
    assert len(problems) == 1
    assert "breaking change #/properties/size: removed (or renamed)" in problems[0]


def test_a_version_whose_major_is_not_the_identifiers_fails() -> None:
    after = {**BASE, "version": "2.0.0"}
    assert "is not of its $id's major" in compat.release_problems({}, {BASE["$id"]: after})[0]


def test_a_released_schema_may_only_disappear_after_a_release_deprecated_it() -> None:
    assert "removed without being deprecated" in compat.release_problems({BASE["$id"]: BASE}, {})[0]
    assert compat.release_problems({BASE["$id"]: {**BASE, "deprecated": True}}, {}) == []


def test_a_new_major_is_published_side_by_side() -> None:
    v2 = {**copy.deepcopy(BASE), "$id": BASE["$id"].replace(".v1.", ".v2."), "version": "2.0.0"}
    del v2["properties"]["size"]
    current = {BASE["$id"]: BASE, v2["$id"]: v2}
    assert compat.release_problems({BASE["$id"]: BASE}, current) == []


# --- the published schemas against the last release --------------------------------------------


def last_release() -> str:
    versions = [p.name for p in RELEASED.iterdir() if p.is_dir()]
    return max(versions, key=lambda v: tuple(int(part) for part in v.split(".")))


def test_the_published_schemas_follow_the_last_release_by_the_rules() -> None:
    released = published.load_directory(RELEASED / last_release())
    assert released, "the release snapshot is empty"
    assert compat.release_problems(released, published.load_directory(published.DIRECTORY)) == []


def test_a_changed_not_is_breaking_whatever_its_direction() -> None:
    assert changed(lambda s: s["properties"]["id"].update({"not": {"const": ""}})) == [
        "#/properties/id/not: changed; not a keyword the detector compares"
    ]


def test_the_check_catches_a_property_removed_from_the_published_job_data() -> None:
    current = published.load_directory(published.DIRECTORY)
    job_data = copy.deepcopy(current[published.JOB_EVENT_DATA])
    job_data["version"] = "1.1.0"
    del job_data["properties"]["model"]
    problems = compat.release_problems(current, {**current, published.JOB_EVENT_DATA: job_data})
    assert [p.split("; ")[0] for p in problems] == [
        f"{published.JOB_EVENT_DATA}: breaking change #/properties/model: removed (or renamed)"
    ]
