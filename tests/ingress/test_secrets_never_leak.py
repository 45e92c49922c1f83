"""No secret ever shows: fuzzed deliveries that carry the configured secrets and tokens, right,
nearly right and in the wrong place, and everything the ingress says about them is scanned.

Every provider's source is configured with a known secret (tests/support.py). Deliveries its
sender signed are altered (tests/fuzz.py) and given a secret in some form: in a header, as the
URL's path token or ``token`` query parameter, in ``Authorization: Basic``, in the body. Then
each answer's body, each JSON log line, the metrics page and the text and repr of each refusal the
verifier raises are searched for every form of every secret. Spared: the source-name segment of
the path (an unknown source's name is quoted back, as the operator needs it) and the event id
headers (an accepted delivery's id is answered and logged).
"""

from __future__ import annotations

import base64
import contextlib
import logging
from collections.abc import Iterator
from urllib.parse import quote, urlencode, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from ingress.app import create_app
from ingress.errors import IngressError
from ingress.logs import JsonFormatter
from ingress.providers.base import Outgoing
from ingress.schemes.standard_webhooks import decode_secret
from ingress.server import DirectRoutes
from schemas.config import parse
from tests.fakes import FakeProducer
from tests.fuzz import NOW, PROFILE, SOURCES, altered, header_values, signed
from tests.support import PROVIDER_SIGNING_KEYS, PROVIDER_SOURCES

BODY = b'{"id": "evt_1", "type": "thing.happened", "data": {"state": "completed"}}'


def secret_forms() -> dict[str, str]:
    """Every configured secret, and the forms it could leak in: whole, its encoded key, the key
    as hex and base64, a Basic credential's password and the credential's base64."""
    forms: dict[str, str] = {}
    for provider, options in PROVIDER_SOURCES.items():
        for secret in options.get("secrets", []):
            forms[f"{provider} secret"] = secret
            if secret.startswith("whsec_"):
                forms[f"{provider} key text"] = secret.removeprefix("whsec_")
                with contextlib.suppress(ValueError):  # stripe's: the whole string is the key
                    forms[f"{provider} key hex"] = decode_secret(secret).hex()
            if provider == "basic-auth":
                forms["basic-auth password"] = secret.partition(":")[2]
                forms["basic-auth credential"] = base64.b64encode(secret.encode()).decode()
    for provider, seed in PROVIDER_SIGNING_KEYS.items():
        forms[f"{provider} signing key"] = seed
        forms[f"{provider} signing key hex"] = base64.b64decode(seed).hex()
    return forms


SECRETS = secret_forms()
#: What is put in requests: the secrets as configured, and nearly right.
PLANTED = sorted({s for p in PROVIDER_SOURCES.values() for s in p.get("secrets", [])})
#: Headers that carry the sender's event id: an accepted delivery's id is answered and logged by
#: design (it names the event to its sender and operator), so no secret is planted there.
ID_HEADERS = {
    "webhook-id",
    "svix-id",
    "x-github-delivery",
    "x-webhook-id",
    "x-shopify-event-id",
    "x-shopify-webhook-id",
    "x-fal-webhook-request-id",
    "i-twilio-idempotency-token",
}


def leaks(text: str) -> list[str]:
    """The secret forms that ``text`` contains (also percent-encoded or lower-cased)."""
    lowered = text.lower()
    return [
        what
        for what, secret in SECRETS.items()
        if secret in text or quote(secret) in text or secret.lower() in lowered
    ]


def test_the_scan_finds_each_form_of_each_secret() -> None:
    for what, secret in SECRETS.items():
        assert what in leaks(f'{{"detail": "bad token {quote(secret)}"}}'), what
        assert what in leaks(f"x{secret.upper()}x") or not secret.isascii(), what
    assert leaks('{"error": "signature_mismatch", "detail": "no signature verifies"}') == []


@st.composite
def with_secret(draw: st.DrawFn, delivery: Outgoing) -> tuple[str, dict[str, str], bytes]:
    """An altered delivery with one planted secret: (path and query, headers, body)."""
    found, body, _ = draw(altered(delivery))
    parts = urlsplit(delivery.url)
    path, query = parts.path, parts.query
    secret = draw(st.sampled_from(PLANTED))
    secret = draw(st.sampled_from([secret, secret + "x", secret[:-1], secret.upper()]))
    place = draw(st.sampled_from(["header", "path", "query", "basic", "body", "none"]))
    if place == "header":
        names = sorted({*found, "x-api-key", "authorization"} - ID_HEADERS)
        found[draw(st.sampled_from(names))] = secret
    elif place == "path":
        path = "/".join(path.split("/")[:3]) + "/" + quote(secret, safe="")
    elif place == "query":
        query = urlencode({"token": secret})
    elif place == "basic":
        found["authorization"] = "Basic " + base64.b64encode(secret.encode()).decode()
    elif place == "body":
        body += secret.encode()
    if draw(st.booleans()):
        query += draw(header_values.map(lambda v: quote(v, safe="=&")))
    # What the test client sends: printable ASCII header values.
    found = {k: "".join(c for c in v if " " <= c <= "~") for k, v in found.items()}
    return f"{path}?{query}" if query else path, found, body


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    """The JSON lines the ingress logs meanwhile, as ``hookgate ingress`` writes them."""
    lines: list[str] = []
    formatter = JsonFormatter()

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(formatter.format(record))

    logger = logging.getLogger("hookgate")
    handler, level = Keep(logging.DEBUG), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_no_secret_in_any_answer_log_line_metric_or_refusal_while_fuzzing(
    name: str, log_lines: list[str]
) -> None:
    settings = parse(
        {"sources": [{"name": n, "provider": n, **c} for n, c in PROVIDER_SOURCES.items()]},
        env={},
    )
    app = DirectRoutes(create_app(settings, producer=FakeProducer(), clock=lambda: float(NOW)))
    original = signed(name, BODY, url="http://testserver/webhooks/{name}")
    said: list[str] = []
    statuses: set[int] = set()

    with TestClient(app) as client:

        @PROFILE
        @given(request=with_secret(original))
        def check(request: tuple[str, dict[str, str], bytes]) -> None:
            target, found, body = request
            response = client.post(target, content=body, headers=found)
            statuses.add(response.status_code)
            said.append(response.text)
            try:
                SOURCES[name].verifier.verify(found, body, float(NOW), f"http://testserver{target}")
            except IngressError as refused:
                said.extend((str(refused), repr(refused), refused.detail))

        check()
        said.append(client.get("/metrics").text)

    said.extend(log_lines)
    assert log_lines, "the ingress logged nothing: the scan would see nothing"
    assert max(statuses) < 500
    # Both the accepted and the refused paths were scanned.
    assert 200 in statuses, statuses
    assert any(400 <= s < 500 for s in statuses), statuses
    found = {what: text for text in said for what in leaks(text)}
    assert found == {}
