"""Published schema identifiers resolve to the files of schemas/json/, and nothing else."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest

from schemas import compat, published

FILES = sorted(published.DIRECTORY.glob("*.schema.json"))


@pytest.mark.parametrize("file", FILES, ids=lambda f: f.name)
def test_every_published_schema_is_named_by_its_identifier(file: Path) -> None:
    schema = published.load(published.BASE_URI + file.name)
    assert schema["$id"] == published.BASE_URI + file.name
    name = published.FILE_NAME.fullmatch(file.name)
    assert name is not None, file.name
    assert compat.version(schema)[0] == int(name["major"])
    jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize(
    "uri",
    [
        published.JOB_EVENT_DATA,
        published.CANONICAL_EVENT,
        published.RAW_DELIVERY,
        published.RAW_DELIVERY_V2,
    ],
)
def test_the_named_identifiers_resolve_to_their_files(uri: str) -> None:
    assert published.path(uri) == published.DIRECTORY / uri.removeprefix(published.BASE_URI)


@pytest.mark.parametrize(
    "uri",
    [
        "https://example.com/schemas/job-event-data.v1.schema.json",
        "https://hookgate.dev/schemas/job-event-data.v9.schema.json",
        "https://hookgate.dev/schemas/job-event-data.schema.json",
        "https://hookgate.dev/schemas/../../pyproject.toml",
        "https://hookgate.dev/schemas/released/0.1.0/job-event-data.v1.schema.json",
        "job-event-data.v1.schema.json",
    ],
    ids=["other-host", "no-such-major", "unversioned", "traversal", "snapshot", "bare-name"],
)
def test_anything_else_is_not_a_published_schema(uri: str) -> None:
    with pytest.raises(published.UnknownSchema):
        published.path(uri)
