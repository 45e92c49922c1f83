"""The shared harness of the random-input tests: mutate headers, record the outcome; and the
hypothesis strategies and profile of the property tests (tests/ingress/test_properties.py,
tests/streams/test_properties.py) and the secret scan (tests/ingress/test_secrets_never_leak.py)."""

from __future__ import annotations

import os
import random
import string
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from ingress.errors import IngressError
from ingress.providers import PROVIDERS, ConfiguredSource, configure_sources
from ingress.providers.base import Outgoing
from schemas.config import parse
from tests.support import PROVIDER_SIGNING_KEYS, PROVIDER_SOURCES

#: What a random-input test must reach: the success path and every refusal, not just the first.
EVERY_OUTCOME = frozenset(
    {
        "ok",
        "missing_header",
        "malformed_header",
        "missing_signature",
        "signature_mismatch",
        "timestamp_too_old",
        "timestamp_in_future",
    }
)


def mutate(
    headers: dict[str, str],
    rng: random.Random,
    junk: Callable[[], str],
    *,
    drop: float,
    change: float,
) -> dict[str, str]:
    """Drop each header with probability ``drop``, else replace it with junk below ``change``."""
    for name in list(headers):
        roll = rng.random()
        if roll < drop:
            del headers[name]
        elif roll < change:
            headers[name] = junk()
    return headers


def outcome(verify: Callable[..., object], *args: Any, **kwargs: Any) -> str:
    """``ok``, or the refusal's reason; any other exception fails the test."""
    try:
        verify(*args, **kwargs)
    except IngressError as exc:
        return exc.reason
    return "ok"


# --- hypothesis: bounded and reproducible ------------------------------------------------------

settings.register_profile(
    "ci",
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("deep", settings.get_profile("ci"), max_examples=1000)
#: A fixed number of examples, derandomized, no deadline (a loaded machine must not fail it);
#: ``HYPOTHESIS_PROFILE=deep`` runs ten times as many, still seeded.
PROFILE = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

NOW = 1_795_000_000
URL = "https://hooks.example.com/webhooks/{name}"
SOURCES: dict[str, ConfiguredSource] = configure_sources(
    parse(
        {"sources": [{"name": n, "provider": n, **c} for n, c in PROVIDER_SOURCES.items()]},
        env={},
    )
)

#: Header names some verifier reads, besides arbitrary ones.
KNOWN_HEADERS = sorted(
    {"authorization", "x-api-key", "x-twilio-signature", "content-type"}.union(
        *(s.verifier.kept_headers for s in SOURCES.values())
    )
)
#: What verifiers see from ASGI: lower-case names, values decoded as latin-1.
header_values = st.one_of(
    st.text(st.characters(max_codepoint=0xFF), max_size=120),
    # shapes a parser looks into: lists of entries, key=value pairs, versions, numbers
    st.lists(
        st.one_of(
            st.from_regex(r"v1a?,[A-Za-z0-9+/=]{0,90}", fullmatch=True),
            st.from_regex(r"(t|v0|v1|sha256)=[0-9a-f]{0,70}", fullmatch=True),
            st.integers(-(10**13), 10**13).map(str),
            st.text(st.characters(max_codepoint=0xFF), max_size=20),
        ),
        max_size=5,
    ).flatmap(lambda parts: st.sampled_from([",", " ", ", "]).map(lambda sep: sep.join(parts))),
)
header_names = st.one_of(
    st.sampled_from(KNOWN_HEADERS), st.text(string.ascii_lowercase + "-", min_size=1, max_size=20)
)
headers = st.dictionaries(header_names, header_values, max_size=8)
bodies = st.one_of(st.binary(max_size=2048), st.text(max_size=512).map(str.encode))
urls = st.one_of(
    st.just(""),
    st.text(max_size=100),
    st.builds(
        "{}://{}{}/webhooks/x{}".format,
        st.sampled_from(["http", "https", "ftp", ""]),
        st.sampled_from(["hooks.example.com", "[::1]", "h@x", ""]),
        st.sampled_from(["", ":443", ":80", ":99999", ":"]),
        st.text(max_size=40).map(lambda q: f"?{q}" if q else ""),
    ),
)
clocks = st.one_of(
    st.just(float(NOW)), st.floats(allow_nan=False, allow_infinity=False), st.integers(0, 2**40)
)


def signed(name: str, body: bytes, url: str = URL) -> Outgoing:
    """A delivery as the provider's sender makes it for the test source ``name`` (one of
    :data:`SOURCES`), to ``url`` (``{name}``: the source's name)."""
    provider, source = PROVIDERS[name], SOURCES[name].settings
    url = url.format(name=name)
    if provider.sign_with_key is not None and name in PROVIDER_SIGNING_KEYS:
        return provider.sign_with_key(source, body, "evt_1", NOW, url, PROVIDER_SIGNING_KEYS[name])
    assert provider.sign is not None, name
    return provider.sign(source, body, "evt_1", NOW, url)


@st.composite
def altered(draw: st.DrawFn, delivery: Outgoing) -> tuple[dict[str, str], bytes, str]:
    """The delivery with some of its headers, body and URL changed, dropped or extended."""
    found = {k.lower(): v for k, v in delivery.headers.items()}
    for name in sorted(found):
        edit = draw(st.sampled_from(["keep", "keep", "drop", "replace", "cut", "extend"]))
        if edit == "drop":
            del found[name]
        elif edit == "replace":
            found[name] = draw(header_values)
        elif edit == "cut":
            found[name] = found[name][: draw(st.integers(0, len(found[name])))]
        elif edit == "extend":
            found[name] += draw(header_values)
    found.update(draw(st.dictionaries(st.sampled_from(KNOWN_HEADERS), header_values, max_size=2)))
    body = delivery.body
    if draw(st.booleans()):
        body = draw(st.one_of(bodies, st.just(body + draw(bodies)), st.just(body[:-1])))
    url = delivery.url
    if draw(st.booleans()):
        url = draw(st.one_of(urls, st.just(url + draw(st.text(max_size=20)))))
    return found, body, url
