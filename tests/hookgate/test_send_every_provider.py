"""`hookgate send` plays every provider: its signed sample is accepted by the real ingress, and its
raw record reaches Kafka with the provider's name and event id."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hookgate.send import send
from ingress.providers import PROVIDERS
from schemas import raw as raw_format
from tests.support import (
    PROVIDER_SIGNING_KEYS,
    PROVIDER_SOURCES,
    Stack,
    header_pairs,
    read_all,
    serving,
)

pytestmark = pytest.mark.kafka

SOURCES = PROVIDER_SOURCES


def test_every_provider_has_a_source_here() -> None:
    assert set(SOURCES) == set(PROVIDERS)


@pytest.fixture(scope="module")
def stack(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(
        kafka_bootstrap,
        tmp_path_factory.mktemp("send"),
        extra_sources=[
            {"name": f"p-{name}", "provider": name, **settings}
            for name, settings in SOURCES.items()
        ],
    )
    with serving(stack, "ingress"):
        yield stack


@pytest.mark.parametrize("provider", sorted(SOURCES))
def test_hookgate_send_is_accepted_for(provider: str, stack: Stack) -> None:
    # A sender's private key (fal's) is the sender's: given to `send`, never configured.
    result = send(stack.settings, f"p-{provider}", signing_key=PROVIDER_SIGNING_KEYS.get(provider))
    assert result.status == 200, result.body

    records = [
        raw_format.decode(r.key(), r.value(), header_pairs(r))
        for r in read_all(stack.bootstrap, stack.settings.topics.raw.name)
    ]
    ours = [r for r in records if r.source == f"p-{provider}"]
    assert [r.event_id for r in ours] == [result.event_id]
    assert ours[0].provider == provider
