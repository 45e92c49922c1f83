"""The provider catalogue: every provider the ingress knows is complete on every side.

A provider is written down in several places joined only by its name: the ingress's verifier
(``ingress/providers`` ``_ALL``), the worker's normalizer or pass-through row
(``streams/normalizers``), a sample body (``hookgate/samples``), the README's provider table and
the signer ``hookgate send`` plays it with. Each test below fails when one of them is missing,
or names a provider that does not exist.
"""

from __future__ import annotations

import re

import pytest

from hookgate.send import SendError, sample_payload
from ingress.providers import _ALL, PROVIDERS, configure_sources
from schemas import config
from schemas.canonical import DEFAULT_TYPE_PREFIX
from schemas.raw import RawDelivery
from streams.normalizers import NORMALIZERS, normalize
from streams.normalizers.passthrough import SPECS
from tests import REPO
from tests.support import PROVIDER_SIGNING_KEYS, PROVIDER_SOURCES

NAMES = sorted(p.name for p in _ALL)
README = REPO / "README.md"
SAMPLES = REPO / "hookgate" / "samples"
NOW = 1_795_000_000


def readme_providers() -> set[str]:
    """The provider names in the first column of the README's provider table."""
    text = README.read_text(encoding="utf-8")
    section = text.split("### Providers", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            names.update(re.findall(r"`([a-z0-9-]+)`", first_cell))
    return names


def test_provider_names_are_unique() -> None:
    assert len(NAMES) == len(set(NAMES)) == len(PROVIDERS)


@pytest.mark.parametrize("name", NAMES)
def test_every_provider_has_a_normalizer_or_a_passthrough_row(name: str) -> None:
    assert name in NORMALIZERS


def test_every_normalizer_and_passthrough_row_belongs_to_a_provider() -> None:
    assert set(NORMALIZERS) - set(NAMES) == set()
    assert set(SPECS) - set(NAMES) == set()


@pytest.mark.parametrize("name", NAMES)
def test_every_provider_has_a_sample_body(name: str) -> None:
    try:
        body = sample_payload(name)
    except SendError as error:
        pytest.fail(str(error))
    assert body


def test_every_sample_body_belongs_to_a_provider() -> None:
    samples = {p.stem for p in SAMPLES.iterdir() if p.suffix in (".json", ".form")}
    assert samples - set(NAMES) == set()


@pytest.mark.parametrize("name", NAMES)
def test_every_provider_has_a_readme_row(name: str) -> None:
    assert name in readme_providers()


def test_every_readme_row_names_a_provider() -> None:
    assert readme_providers() - set(NAMES) == set()


@pytest.mark.parametrize("name", NAMES)
def test_every_provider_can_be_played_by_hookgate_send(name: str) -> None:
    assert PROVIDERS[name].sign is not None or PROVIDERS[name].sign_with_key is not None


@pytest.mark.parametrize("name", NAMES)
def test_every_providers_sample_signed_as_hookgate_send_does_verifies_and_normalizes(
    name: str,
) -> None:
    # Catalogue completeness, not signature correctness: that is checked per provider against
    # the senders' own libraries.
    source_doc = {"name": f"p-{name}", "provider": name, **PROVIDER_SOURCES[name]}
    settings = config.parse({"sources": [source_doc]}, env={})
    configured = configure_sources(settings)[f"p-{name}"]
    provider = PROVIDERS[name]
    body = sample_payload(name)
    url = f"http://127.0.0.1:8000/webhooks/p-{name}"
    if provider.sign_with_key is not None:
        outgoing = provider.sign_with_key(
            configured.settings, body, "evt_catalogue", NOW, url, PROVIDER_SIGNING_KEYS[name]
        )
    else:
        assert provider.sign is not None
        outgoing = provider.sign(configured.settings, body, "evt_catalogue", NOW, url)
    headers = {k.lower(): v for k, v in outgoing.headers.items()}
    verified = configured.verifier.verify(headers, outgoing.body, float(NOW), outgoing.url)
    raw = RawDelivery(
        source=f"p-{name}",
        provider=name,
        scheme=PROVIDERS[name].scheme,
        event_id=verified.event_id,
        received_at_ms=NOW * 1000,
        content_type=headers.get("content-type", "application/octet-stream"),
        body=outgoing.body,
        sender_headers=tuple(
            (h, headers[h]) for h in configured.verifier.kept_headers if h in headers
        ),
    )
    event = normalize(raw, DEFAULT_TYPE_PREFIX)
    assert event.id == verified.event_id
    assert event.type.startswith(DEFAULT_TYPE_PREFIX)
