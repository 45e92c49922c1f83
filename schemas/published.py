"""The published JSON Schemas and their identifiers.

Every file ``schemas/json/{name}.v{major}.schema.json`` carries ``"$id":
"https://hookgate.dev/schemas/{name}.v{major}.schema.json"`` and a ``"version"`` (semantic
versioning, same major). The identifier is the file name under :data:`BASE_URI`, so a
``dataschema`` on an event resolves to a file of this directory, in the repository and in the
installed ``schemas`` package: :func:`load`. The identifier changes only with the major version,
on a breaking change; compatible changes raise the minor version under the same identifier
(rules: ``schemas/README.md``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Final

BASE_URI: Final = "https://hookgate.dev/schemas/"
DIRECTORY: Final = Path(__file__).parent / "json"
#: ``{name}.v{major}.schema.json``
FILE_NAME: Final = re.compile(
    r"(?P<name>[a-z0-9][a-z0-9-]*)\.v(?P<major>[1-9][0-9]*)\.schema\.json"
)

#: ``data`` of canonical job events (``{prefix}job.*``).
JOB_EVENT_DATA: Final = BASE_URI + "job-event-data.v1.schema.json"
#: A canonical event in structured form.
CANONICAL_EVENT: Final = BASE_URI + "canonical-event.v1.schema.json"
#: A raw-delivery record; its major version is the ``hookgate-format`` header.
RAW_DELIVERY: Final = BASE_URI + "raw-delivery.v1.schema.json"
#: A raw-delivery record keyed by its dedup id (``hookgate-format: 2``).
RAW_DELIVERY_V2: Final = BASE_URI + "raw-delivery.v2.schema.json"


class UnknownSchema(LookupError):
    """An identifier that names no published schema."""


def path(uri: str) -> Path:
    """The file of the published schema ``uri``."""
    name = uri.removeprefix(BASE_URI)
    found = DIRECTORY / name
    if name == uri or not FILE_NAME.fullmatch(name) or not found.is_file():
        raise UnknownSchema(f"{uri[:200]!r} is not a published schema")
    return found


def load(uri: str) -> dict[str, Any]:
    """The published schema ``uri`` as a JSON object."""
    document: dict[str, Any] = json.loads(path(uri).read_text(encoding="utf-8"))
    return document


def load_directory(directory: Path) -> dict[str, dict[str, Any]]:
    """Every ``*.schema.json`` of ``directory``, by ``$id``."""
    found: dict[str, dict[str, Any]] = {}
    for file in sorted(directory.glob("*.schema.json")):
        document = json.loads(file.read_text(encoding="utf-8"))
        found[document["$id"]] = document
    return found
