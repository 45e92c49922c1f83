"""The ingress's OpenAPI description (``ingress/openapi.json``, served at ``GET /openapi.json``)
says what the ingress answers, and the live ingress answers nothing else.

The first tests hold the description to the app (in-process, a fake producer); the last runs
schemathesis against ``hookgate ingress`` as a process on the real broker, with a source of every
provider configured.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.applications import Starlette
from starlette.routing import Route

from ingress import errors, openapi
from ingress.app import create_app
from ingress.providers import configure_sources
from schemas.config import Settings, parse
from tests.fakes import FakeProducer
from tests.fuzz import PROFILE
from tests.support import PROVIDER_SOURCES, Stack, serving

#: One source per provider, named after it.
EVERY_PROVIDER = [{"name": name, "provider": name, **c} for name, c in PROVIDER_SOURCES.items()]


def every_provider() -> Settings:
    return parse({"sources": EVERY_PROVIDER}, env={})


def app() -> Starlette:
    return create_app(every_provider(), producer=FakeProducer())


async def served_description() -> bytes:
    transport = httpx.ASGITransport(app=app())
    async with httpx.AsyncClient(transport=transport, base_url="http://hookgate") as client:
        response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    return response.content


async def test_the_served_description_is_the_shipped_file() -> None:
    shipped = openapi.PATH.read_bytes()
    assert await served_description() == shipped, (
        "ingress/openapi.json is stale: run `hookgate openapi --write`"
    )


def test_every_route_the_app_serves_is_described_and_no_other() -> None:
    served = {
        (route.path, method.lower())
        for route in app().routes
        if isinstance(route, Route)
        for method in route.methods or ()
        if method != "HEAD"  # Starlette answers HEAD for every GET route
    }
    described = {
        (path, method) for path, item in openapi.description()["paths"].items() for method in item
    }
    assert served == described


def test_every_refusal_in_ingress_errors_is_described_with_its_status_and_reason() -> None:
    def leaves(cls: type[errors.IngressError]) -> Iterator[type[errors.IngressError]]:
        subclasses = cls.__subclasses__()
        if not subclasses:
            yield cls
        for sub in subclasses:
            yield from leaves(sub)

    described = openapi.description()["paths"]["/webhooks/{source}"]["post"]["responses"]
    for refusal in leaves(errors.IngressError):
        schema = described[str(refusal.status)]["content"]["application/json"]["schema"]
        assert refusal.reason in schema["properties"]["error"]["enum"], refusal.__name__


def test_the_head_limit_refusal_is_described_on_every_operation() -> None:
    for path, item in openapi.description()["paths"].items():
        for method, operation in item.items():
            assert "431" in operation["responses"], f"{method} {path}"


# --- schemathesis against the live ingress ----------------------------------------------------

#: A response that breaks the description fails; so does any 5xx the description does not name.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
#: Examples per operation and the seed: bounded and reproducible (well under a minute; ten times
#: as many with ``HYPOTHESIS_PROFILE=deep``, tests/fuzz.py). The GET routes take no input, so a
#: few examples say all there is. (schemathesis leaves out ``GET /openapi.json``, the location it
#: loads the description from; the first tests cover it.)
MAX_EXAMPLES = {"POST": 2 * PROFILE.max_examples, "GET": 10}
SEED = 8


def header_names(settings: Settings) -> list[str]:
    """The headers some verifier reads or keeps, and the ones the token schemes read."""
    names = {"authorization", "x-api-key", "x-twilio-signature", "content-type"}
    for source in configure_sources(settings).values():
        names.update(source.verifier.kept_headers)
    return sorted(names)


@pytest.fixture(scope="module")
def live(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:

    stack = Stack(kafka_bootstrap, tmp_path_factory.mktemp("openapi"), extra_sources=EVERY_PROVIDER)
    with serving(stack, "ingress"):
        yield stack


@pytest.mark.kafka
def test_schemathesis_finds_no_5xx_and_no_answer_outside_the_description(live: Stack) -> None:
    served = httpx.get(f"{live.url}/openapi.json", timeout=10).content
    assert served == openapi.PATH.read_bytes()
    schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json")
    names = [*live.settings.sources, "no-such-source"]
    headers = st.dictionaries(
        st.sampled_from(header_names(live.settings)),
        # what an HTTP client sends: printable ASCII, no surrounding blanks
        st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80).map(str.strip),
        max_size=6,
    )
    statuses: Counter[tuple[str, int]] = Counter()

    def run(operation: APIOperation[Any, Any, Any, Any]) -> None:
        strategy = operation.as_strategy(generation_mode=GenerationMode.POSITIVE) | (
            operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)
        )

        @seed(SEED)
        @settings(
            max_examples=MAX_EXAMPLES[operation.method.upper()],
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy, source=st.sampled_from(names), extra=headers)
        def call(case: Case[Any], source: str, extra: dict[str, str]) -> None:
            if case.path_parameters and "source" in case.path_parameters:
                case.path_parameters["source"] = source  # mostly configured sources
                case.headers.update(extra)
            response = case.call_and_validate(checks=CHECKS, timeout=30)
            statuses[(operation.label, response.status_code)] += 1
            if case.method == "POST":
                assert response.status_code != 200, f"a random delivery was accepted: {case!r}"

        call()

    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        run(result.ok())
    print(f"schemathesis: {sum(statuses.values())} requests", json.dumps(sorted(statuses.items())))
    assert not any(status >= 500 for (_, status) in statuses)
    assert sum(n for (label, _), n in statuses.items() if label.startswith("POST")) >= 100
