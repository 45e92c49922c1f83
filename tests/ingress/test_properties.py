"""Property tests of the ingress: arbitrary input gives success or the package's own error.

- every provider's verifier (``ingress/schemes``), given arbitrary headers, body, clock and URL,
  and given a delivery its sender signed and then altered: a :class:`Verified` or an
  :class:`ingress.errors.IngressError` (which the ingress answers as a 4xx), never another
  exception (which it would answer as a 500);
- and an altered delivery whose body changed is never accepted (with a check that this oracle
  catches a verifier that ignores the signature);
- the header and body parsers the schemes share: a value, ``None`` or an ``IngressError``.

The worker's side (every normalizer, the raw record's decoder) is tests/streams/test_properties.py.

Bounded and reproducible: a fixed number of examples, derandomized, no deadline (a loaded
machine must not fail them). ``HYPOTHESIS_PROFILE=deep`` runs ten times as many, still seeded
(tests/fuzz.py has the strategies and the profile).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingress.errors import IngressError
from ingress.providers.base import Outgoing
from ingress.schemes import body_hmac, parsing, standard_webhooks, timestamped_hmac, token, twilio
from ingress.schemes.base import Verified, Verifier
from tests.fuzz import (
    NOW,
    PROFILE,
    SOURCES,
    altered,
    bodies,
    clocks,
    header_values,
    headers,
    signed,
    urls,
)


def verify(name: str, found: dict[str, str], body: bytes, now: float, url: str) -> object:
    """The verifier's answer; an exception other than an ``IngressError`` fails the test."""
    try:
        result: object = SOURCES[name].verifier.verify(found, body, now, url)
    except IngressError as refused:
        return refused
    assert isinstance(result, Verified)
    return result


# --- every verifier -------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_a_verifier_answers_arbitrary_input_with_success_or_its_own_refusal(name: str) -> None:
    @PROFILE
    @given(found=headers, body=bodies, now=clocks, url=urls)
    def check(found: dict[str, str], body: bytes, now: float, url: str) -> None:
        verify(name, found, body, now, url)

    check()


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_a_verifier_answers_an_altered_signed_delivery_with_success_or_its_refusal(
    name: str,
) -> None:
    original = signed(name, SIGNED_BODY)
    # The unaltered delivery verifies: the alterations start from the success path.
    assert isinstance(
        verify(name, dict(original.headers), original.body, NOW, original.url), Verified
    )

    @PROFILE
    @given(delivery=altered(original), now=st.one_of(st.just(float(NOW)), clocks))
    def check(delivery: tuple[dict[str, str], bytes, str], now: float) -> None:
        verify(name, delivery[0], delivery[1], now, delivery[2])

    check()


#: Sources whose signature covers the body (the token providers authenticate the sender only).
BODY_SIGNED = sorted(set(SOURCES) - {"luma", "basic-auth", "api-key"})
SIGNED_BODY = b'{"id": "evt_1", "type": "thing.happened", "data": {}}'


def check_no_changed_body_accepted(verifier: Verifier, original: Outgoing) -> None:
    """The oracle: a signed delivery whose body was changed is never accepted, whatever else
    was changed with it."""

    @PROFILE
    @given(delivery=altered(original).filter(lambda d: d[1] != original.body))
    def check(delivery: tuple[dict[str, str], bytes, str]) -> None:
        found, body, url = delivery
        try:
            verifier.verify(found, body, float(NOW), url)
        except IngressError:
            return
        raise AssertionError(f"a delivery with a changed body was accepted: {body!r}")

    check()


@pytest.mark.parametrize("name", BODY_SIGNED)
def test_a_verifier_never_accepts_a_signed_delivery_whose_body_was_changed(name: str) -> None:
    check_no_changed_body_accepted(SOURCES[name].verifier, signed(name, SIGNED_BODY))


def test_the_oracle_catches_a_verifier_that_ignores_the_signature() -> None:
    class AcceptsAnything:
        kept_headers = ()

        def verify(
            self, headers: Mapping[str, str], body: bytes, now: float, url: str = ""
        ) -> Verified:
            return Verified("evt_1", 0)

    with pytest.raises(AssertionError, match="changed body was accepted"):
        check_no_changed_body_accepted(AcceptsAnything(), signed("stripe", SIGNED_BODY))


# --- the parsers the schemes share ----------------------------------------------------------

PARSERS: dict[str, tuple[Callable[[Any], object], st.SearchStrategy[Any]]] = {
    "standard_webhooks signature list": (
        lambda v: standard_webhooks._parse_entries(v, "webhook-signature"),
        header_values,
    ),
    "t=,v1= header": (
        lambda v: timestamped_hmac._parse(v, "stripe-signature", "v1"),
        header_values,
    ),
    "github sha256=": (
        lambda v: body_hmac._parse(v, "x-hub-signature-256", body_hmac.GITHUB),
        header_values,
    ),
    "pagerduty v1= list": (
        lambda v: body_hmac._parse(v, "x-pagerduty-signature", body_hmac.PAGERDUTY),
        header_values,
    ),
    "shopify base64": (
        lambda v: body_hmac._parse(v, "x-shopify-hmac-sha256", body_hmac.SHOPIFY),
        header_values,
    ),
    "twilio signature": (lambda v: twilio._decode_signature(v, 20), header_values),
    "twilio form": (twilio.form_pairs, bodies),
    "twilio port variants": (twilio.port_variants, urls),
    "twilio query value": (lambda v: twilio._query_value(v, "bodySHA256"), urls),
    "token header bytes": (token.header_bytes, header_values),
    "basic credentials": (
        lambda v: token.BasicAuth().candidates({"authorization": v}, ""),
        st.one_of(header_values, header_values.map("Basic {}".format)),
    ),
    "url token": (lambda v: token.UrlToken("luma").candidates({}, v), urls),
    "strict base64": (lambda v: parsing.strict_b64decode(v, 32), header_values),
    "json document": (parsing.json_document, bodies),
    "json event id": (lambda v: parsing.json_event_id(v, "id"), bodies),
}


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_a_parser_answers_arbitrary_input_with_a_value_or_an_ingress_error(name: str) -> None:
    parser, inputs = PARSERS[name]

    @PROFILE
    @given(value=inputs)
    def check(value: object) -> None:
        with contextlib.suppress(IngressError):
            parser(value)

    check()
