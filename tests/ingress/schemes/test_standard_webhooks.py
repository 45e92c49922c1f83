"""The Standard Webhooks scheme: spec vector, rotation, Ed25519, time window, hostile headers."""

from __future__ import annotations

import base64
import functools
import random
import string
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from standardwebhooks.webhooks import Webhook

from ingress.errors import (
    IngressError,
    MalformedHeader,
    MissingHeader,
    MissingSignature,
    SignatureMismatch,
    TimestampInFuture,
    TimestampTooOld,
)
from ingress.schemes.ed25519 import VerifyingKey
from ingress.schemes.standard_webhooks import (
    StandardWebhooksVerifier,
    decode_public_key,
    decode_secret,
    decode_signing_key,
    sign,
    sign_ed25519,
)
from tests.fuzz import EVERY_OUTCOME, mutate, outcome

# The spec's known-answer vector (PROVIDERS.md).
SECRET_TEXT = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TS = 1614265330
BODY = b'{"test": 2432232314}'
SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

SECRET = decode_secret(SECRET_TEXT)
OTHER_SECRET = b"another secret, 32 bytes long..."


def headers(signature: str = SIGNATURE, msg_id: str = MSG_ID, ts: str = str(TS)) -> dict[str, str]:
    return {"webhook-id": msg_id, "webhook-timestamp": ts, "webhook-signature": signature}


#: The verifier with SECRET unless told otherwise.
verifier = functools.partial(StandardWebhooksVerifier, secrets=(SECRET,))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# --- the spec vector --------------------------------------------------------------------------


def test_spec_vector_verifies_at_its_timestamp() -> None:
    result = verifier().verify(headers(), BODY, now=TS)
    assert (result.event_id, result.key_index, result.timestamp) == (MSG_ID, 0, TS)


def test_sign_reproduces_the_spec_vector() -> None:
    assert sign(SECRET, MSG_ID, TS, BODY) == SIGNATURE


def test_spec_vector_with_last_character_changed_is_a_mismatch() -> None:
    with pytest.raises(SignatureMismatch):
        verifier().verify(headers(SIGNATURE[:-2] + "A="), BODY, now=TS)


def test_non_canonical_base64_of_the_valid_signature_is_not_accepted() -> None:
    # '...1OF=' decodes to the same bytes as '...1OE=' (the last character's low bits are unused).
    assert base64.b64decode(SIGNATURE[3:-2] + "F=") == base64.b64decode(SIGNATURE[3:])
    with pytest.raises(MalformedHeader):
        verifier().verify(headers(SIGNATURE[:-2] + "F="), BODY, now=TS)


def test_unknown_version_entry_next_to_the_valid_one_is_ignored() -> None:
    sig = "v2,Zm9vYmFyYmF6 " + SIGNATURE + " v1b,whatever"
    assert verifier().verify(headers(sig), BODY, now=TS).key_index == 0


def test_several_entries_of_which_one_is_valid_verify() -> None:
    sig = " ".join(
        [
            sign(OTHER_SECRET, MSG_ID, TS, BODY),
            "v1,not-base64",
            "nocomma",
            SIGNATURE,
            sign(SECRET, MSG_ID, TS + 1, BODY),
        ]
    )
    assert verifier().verify(headers(sig), BODY, now=TS).event_id == MSG_ID


def test_tampered_body_byte_is_a_mismatch() -> None:
    tampered = BODY.replace(b"4", b"5", 1)
    with pytest.raises(SignatureMismatch):
        verifier().verify(headers(), tampered, now=TS)


def test_body_is_verified_as_raw_bytes_not_as_text() -> None:
    body = b"\xff\xfe\x00not utf-8\r\n"
    sig = sign(SECRET, MSG_ID, TS, body)
    assert verifier().verify(headers(sig), body, now=TS).event_id == MSG_ID


def test_empty_body_can_be_signed_and_verified() -> None:
    assert verifier().verify(headers(sign(SECRET, MSG_ID, TS, b"")), b"", now=TS).timestamp == TS


# --- secrets and keys -------------------------------------------------------------------------


def test_secret_without_prefix_and_without_padding_decodes_to_the_same_key() -> None:
    raw = bytes(range(25))  # 25 bytes: base64 ends in '=='
    assert b64(raw).endswith("==")
    assert decode_secret(b64(raw).rstrip("=")) == raw
    assert decode_secret("whsec_" + b64(raw)) == raw
    assert decode_secret(SECRET_TEXT.removeprefix("whsec_")) == SECRET


def test_verifier_built_from_an_unprefixed_unpadded_secret_verifies() -> None:
    raw = bytes(range(25))
    v = verifier(secrets=[decode_secret(b64(raw).rstrip("="))])
    assert v.verify(headers(sign(raw, MSG_ID, TS, BODY)), BODY, now=TS).key_index == 0


def test_secret_surrounded_by_whitespace_from_a_mounted_file_decodes() -> None:
    assert decode_secret(SECRET_TEXT + "\n") == SECRET


@pytest.mark.parametrize(
    "text",
    ["", "whsec_", "   ", "whsec_not base64!", "whsec_abcde", "whsec_ÄÖÜ", "whsec_Y=WJj"],
    ids=["empty", "prefix-only", "blank", "spaces", "bad-length", "non-ascii", "inner-padding"],
)
def test_undecodable_secret_raises_value_error_without_the_secret(text: str) -> None:
    with pytest.raises(ValueError, match="webhook secret") as exc_info:
        decode_secret(text)
    secret_part = text.strip().removeprefix("whsec_")
    if secret_part:
        assert secret_part not in str(exc_info.value)


def test_secret_with_surplus_padding_decodes() -> None:
    assert decode_secret("whsec_YWJj===") == decode_secret("whsec_YWJj") == b"abc"
    assert decode_secret("whsec_YWI===") == b"ab"


def test_public_key_round_trips_through_whpk_text() -> None:
    key = Ed25519PrivateKey.generate().public_key()
    raw = key.public_bytes_raw()
    assert decode_public_key("whpk_" + b64(raw)).public_bytes_raw() == raw
    assert decode_public_key(b64(raw).rstrip("=")).public_bytes_raw() == raw


def test_public_key_of_the_wrong_length_is_rejected() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        decode_public_key("whpk_" + b64(b"x" * 31))


def test_signing_key_accepts_seed_plus_public_key_and_bare_seed() -> None:
    key = Ed25519PrivateKey.generate()
    seed, public = key.private_bytes_raw(), key.public_key().public_bytes_raw()
    for text in ("whsk_" + b64(seed + public), "whsk_" + b64(seed)):
        assert decode_signing_key(text).public_key().public_bytes_raw() == public


def test_signing_key_whose_public_half_does_not_match_its_seed_is_rejected() -> None:
    seed = Ed25519PrivateKey.generate().private_bytes_raw()
    stranger = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    with pytest.raises(ValueError, match="does not belong"):
        decode_signing_key("whsk_" + b64(seed + stranger))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"secrets": []}, "at least one"),
        ({"secrets": [b""]}, "must not be empty"),
        ({"tolerance": -1}, "tolerance"),
    ],
    ids=["no-secret-or-key", "empty-secret", "negative-tolerance"],
)
def test_bad_verifier_configuration_raises_value_error(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        verifier(**kwargs)


# --- rotation and Ed25519 ---------------------------------------------------------------------


def test_delivery_signed_with_the_second_secret_reports_key_index_1() -> None:
    v = verifier(secrets=[OTHER_SECRET, SECRET])
    assert v.verify(headers(), BODY, now=TS).key_index == 1


def test_key_index_follows_configured_order_not_entry_order() -> None:
    both = SIGNATURE + " " + sign(OTHER_SECRET, MSG_ID, TS, BODY)
    v = verifier(secrets=[OTHER_SECRET, SECRET])
    assert v.verify(headers(both), BODY, now=TS).key_index == 0


def test_ed25519_entry_verifies_with_key_index_after_the_secrets() -> None:
    keys = [Ed25519PrivateKey.generate() for _ in range(2)]
    v = verifier(secrets=[OTHER_SECRET], public_keys=[k.public_key() for k in keys])
    sig = sign_ed25519(keys[1], MSG_ID, TS, BODY)
    assert sig.startswith("v1a,")
    assert v.verify(headers(sig), BODY, now=TS).key_index == 1 + 1


def test_ed25519_only_verifier_accepts_its_signature() -> None:
    key = Ed25519PrivateKey.generate()
    v = StandardWebhooksVerifier(public_keys=[key.public_key()])
    assert v.verify(headers(sign_ed25519(key, MSG_ID, TS, BODY)), BODY, now=TS).key_index == 0


def test_ed25519_signature_over_a_tampered_body_is_a_mismatch() -> None:
    key = Ed25519PrivateKey.generate()
    v = StandardWebhooksVerifier(public_keys=[key.public_key()])
    with pytest.raises(SignatureMismatch):
        v.verify(headers(sign_ed25519(key, MSG_ID, TS, BODY)), BODY + b" ", now=TS)


def test_ed25519_signature_from_an_unknown_key_is_a_mismatch() -> None:
    v = StandardWebhooksVerifier(public_keys=[Ed25519PrivateKey.generate().public_key()])
    sig = sign_ed25519(Ed25519PrivateKey.generate(), MSG_ID, TS, BODY)
    with pytest.raises(SignatureMismatch):
        v.verify(headers(sig), BODY, now=TS)


def test_only_v1a_entries_for_a_verifier_with_only_secrets_is_a_missing_signature() -> None:
    sig = sign_ed25519(Ed25519PrivateKey.generate(), MSG_ID, TS, BODY)
    with pytest.raises(MissingSignature):
        verifier().verify(headers(sig), BODY, now=TS)


def test_only_v1_entries_for_a_verifier_with_only_public_keys_is_a_missing_signature() -> None:
    v = StandardWebhooksVerifier(public_keys=[Ed25519PrivateKey.generate().public_key()])
    with pytest.raises(MissingSignature):
        v.verify(headers(), BODY, now=TS)


def test_only_unknown_versions_is_a_missing_signature() -> None:
    with pytest.raises(MissingSignature):
        verifier().verify(headers("v2,Zm9v v3,YmFy"), BODY, now=TS)


def forged_v1a(n: int) -> str:
    return " ".join("v1a," + b64(bytes([i]) * 64) for i in range(n))


def test_a_repeated_v1a_entry_is_verified_once_per_key(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each check hashes the whole body: a repeated entry must not cost one per repetition.
    checked: list[bytes] = []
    check = VerifyingKey.verifies

    def counted(key: VerifyingKey, signature: bytes, message: bytes) -> bool:
        checked.append(key.key.public_bytes_raw())
        return check(key, signature, message)

    monkeypatch.setattr(VerifyingKey, "verifies", counted)
    keys = [Ed25519PrivateKey.generate().public_key() for _ in range(2)]
    v = StandardWebhooksVerifier(public_keys=keys)
    with pytest.raises(SignatureMismatch):
        v.verify(headers(" ".join([forged_v1a(1)] * 16)), BODY, now=TS)
    assert checked == [key.public_bytes_raw() for key in keys]


def test_v1a_entries_up_to_one_more_than_the_keys_are_all_tried() -> None:
    keys = [Ed25519PrivateKey.generate() for _ in range(2)]
    v = StandardWebhooksVerifier(public_keys=[k.public_key() for k in keys])
    # Signed by cryptography's Ed25519 (OpenSSL), not by this module's signer.
    valid = "v1a," + b64(keys[1].sign(f"{MSG_ID}.{TS}.".encode() + BODY))
    assert v.verify(headers(forged_v1a(2) + " " + valid), BODY, now=TS).key_index == 1


def test_more_v1a_entries_than_keys_plus_one_is_a_400_naming_the_limit() -> None:
    v = StandardWebhooksVerifier(public_keys=[Ed25519PrivateKey.generate().public_key()] * 2)
    with pytest.raises(MalformedHeader, match="at most 3"):
        v.verify(headers(forged_v1a(4)), BODY, now=TS)


# --- the time window --------------------------------------------------------------------------


def test_timestamp_exactly_tolerance_old_passes() -> None:
    assert verifier().verify(headers(), BODY, now=TS + 300).timestamp == TS


def test_timestamp_exactly_tolerance_ahead_passes() -> None:
    assert verifier().verify(headers(), BODY, now=TS - 300).timestamp == TS


def test_timestamp_one_second_past_tolerance_is_too_old() -> None:
    with pytest.raises(TimestampTooOld, match="301 s old; tolerance is 300 s"):
        verifier().verify(headers(), BODY, now=TS + 301)


def test_timestamp_one_second_beyond_tolerance_ahead_is_in_the_future() -> None:
    with pytest.raises(TimestampInFuture, match="301 s ahead; tolerance is 300 s"):
        verifier().verify(headers(), BODY, now=TS - 301)


def test_fractional_now_just_past_tolerance_is_too_old() -> None:
    with pytest.raises(TimestampTooOld):
        verifier().verify(headers(), BODY, now=TS + 300.001)


def test_tolerance_is_configurable() -> None:
    with pytest.raises(TimestampTooOld, match="tolerance is 10 s"):
        verifier(tolerance=10).verify(headers(), BODY, now=TS + 11)


def test_forgery_with_a_stale_timestamp_is_reported_as_a_mismatch_not_as_too_old() -> None:
    # The signature is checked before the window: timestamp errors mean "real sender, wrong time".
    with pytest.raises(SignatureMismatch):
        verifier().verify(headers(SIGNATURE[:-2] + "A="), BODY, now=TS + 10_000)


# --- header names -----------------------------------------------------------------------------


def test_kept_headers_are_the_standard_names_by_default() -> None:
    assert verifier().kept_headers == ("webhook-id", "webhook-timestamp", "webhook-signature")


def test_svix_header_names_are_constructor_parameters() -> None:
    v = verifier(
        id_header="svix-id", timestamp_header="svix-timestamp", signature_header="svix-signature"
    )
    svix = {"svix-id": MSG_ID, "svix-timestamp": str(TS), "svix-signature": SIGNATURE}
    assert v.kept_headers == ("svix-id", "svix-timestamp", "svix-signature")
    assert v.verify(svix, BODY, now=TS).event_id == MSG_ID
    with pytest.raises(MissingSignature):
        v.verify(headers(), BODY, now=TS)


def test_id_of_256_printable_characters_is_accepted() -> None:
    msg_id = "m" * 255 + "~"
    assert verifier().verify(headers(sign(SECRET, msg_id, TS, BODY), msg_id), BODY, TS).event_id


# --- hostile headers --------------------------------------------------------------------------

Mutate = Callable[[dict[str, str]], None]


def drop(name: str) -> Mutate:
    return lambda h: h.__delitem__(name)


def put(name: str, value: str) -> Mutate:
    return lambda h: h.__setitem__(name, value)


def set_ts(value: str) -> Mutate:
    return put("webhook-timestamp", value)


def set_id(value: str) -> Mutate:
    return put("webhook-id", value)


def set_sig(value: str) -> Mutate:
    return put("webhook-signature", value)


VALID_B64 = SIGNATURE[3:]
URLSAFE = str.maketrans("+/", "-_")
# int() accepts both of these as 1614265330.
ARABIC_INDIC_TS = "".join(chr(0x0660 + int(d)) for d in str(TS))
FULLWIDTH_TS = "".join(chr(0xFF10 + int(d)) for d in str(TS))
HOSTILE: list[tuple[str, Mutate, type[IngressError]]] = [
    ("signature-missing", drop("webhook-signature"), MissingSignature),
    ("signature-empty", set_sig(""), MissingSignature),
    ("all-missing", lambda h: h.clear(), MissingSignature),
    ("id-missing", drop("webhook-id"), MissingHeader),
    ("id-empty", set_id(""), MissingHeader),
    ("timestamp-missing", drop("webhook-timestamp"), MissingHeader),
    ("timestamp-empty", set_ts(""), MissingHeader),
    ("timestamp-letters", set_ts("abc"), MalformedHeader),
    ("timestamp-negative", set_ts(f"-{TS}"), MalformedHeader),
    ("timestamp-plus-sign", set_ts(f"+{TS}"), MalformedHeader),
    ("timestamp-leading-space", set_ts(f" {TS}"), MalformedHeader),
    ("timestamp-trailing-space", set_ts(f"{TS} "), MalformedHeader),
    ("timestamp-trailing-newline", set_ts(f"{TS}\n"), MalformedHeader),
    ("timestamp-decimal", set_ts(f"{TS}.0"), MalformedHeader),
    ("timestamp-exponent", set_ts("1.6e9"), MalformedHeader),
    ("timestamp-hex", set_ts(hex(TS)), MalformedHeader),
    ("timestamp-underscores", set_ts("1_614_265_330"), MalformedHeader),
    ("timestamp-leading-zero", set_ts(f"0{TS}"), MalformedHeader),
    ("timestamp-arabic-indic-digits", set_ts(ARABIC_INDIC_TS), MalformedHeader),
    ("timestamp-fullwidth-digits", set_ts(FULLWIDTH_TS), MalformedHeader),
    ("timestamp-13-digits", set_ts("9" * 13), MalformedHeader),
    ("timestamp-5000-digits", set_ts("9" * 5000), MalformedHeader),
    ("timestamp-nan", set_ts("nan"), MalformedHeader),
    ("id-257-chars", set_id("m" * 257), MalformedHeader),
    ("id-space", set_id("msg id"), MalformedHeader),
    ("id-tab", set_id("msg\tid"), MalformedHeader),
    ("id-newline", set_id("msg\nid"), MalformedHeader),
    ("id-nul", set_id("msg\x00id"), MalformedHeader),
    ("id-del", set_id("msg\x7fid"), MalformedHeader),
    ("id-non-ascii", set_id("msg_é"), MalformedHeader),
    ("id-zero-width-space", set_id("\u200bmsg"), MalformedHeader),
    ("id-lone-surrogate", set_id("msg\ud800"), MalformedHeader),
    ("signature-blank", set_sig("   "), MalformedHeader),
    ("signature-garbage", set_sig("garbage"), MalformedHeader),
    ("signature-only-commas", set_sig(",,,,"), MalformedHeader),
    ("signature-version-only", set_sig("v1"), MalformedHeader),
    ("signature-version-and-comma", set_sig("v1,"), MalformedHeader),
    ("signature-no-version", set_sig("," + VALID_B64), MalformedHeader),
    ("signature-bad-version", set_sig("version1," + VALID_B64), MalformedHeader),
    ("signature-semicolon", set_sig("v1;" + VALID_B64), MalformedHeader),
    ("signature-space-after-comma", set_sig("v1, " + VALID_B64), MalformedHeader),
    ("signature-bad-base64", set_sig("v1,not base64!"), MalformedHeader),
    ("signature-base64url", set_sig("v1," + VALID_B64.translate(URLSAFE)), MalformedHeader),
    ("signature-truncated", set_sig("v1,g0hM9SsE+OTPJTGt"), MalformedHeader),
    ("signature-unpadded", set_sig(SIGNATURE.rstrip("=")), MalformedHeader),
    ("signature-excess-padding", set_sig(SIGNATURE + "="), MalformedHeader),
    ("signature-v1-of-64-bytes", set_sig("v1," + b64(b"x" * 64)), MalformedHeader),
    ("signature-v1a-of-32-bytes", set_sig("v1a," + b64(b"x" * 32)), MalformedHeader),
    ("signature-fullwidth-letter", set_sig("v1,\uff47" + VALID_B64[1:]), MalformedHeader),
    ("signature-17-entries", set_sig(" ".join([SIGNATURE] * 17)), MalformedHeader),
    ("signature-wrong-but-well-formed", set_sig("v1," + b64(b"x" * 32)), SignatureMismatch),
    ("signature-for-another-id", set_id("msg_other"), SignatureMismatch),
    ("signature-for-another-timestamp", set_ts(str(TS + 1)), SignatureMismatch),
]


@pytest.mark.parametrize(
    ("mutate", "expected"), [c[1:] for c in HOSTILE], ids=[c[0] for c in HOSTILE]
)
def test_hostile_header_gives_its_documented_error(
    mutate: Mutate, expected: type[IngressError]
) -> None:
    h = headers()
    mutate(h)
    with pytest.raises(IngressError) as exc_info:
        verifier().verify(h, BODY, now=TS)
    assert type(exc_info.value) is expected


def test_signature_header_at_the_entry_limit_still_verifies() -> None:
    assert verifier().verify(headers(" ".join([SIGNATURE] * 16)), BODY, now=TS).key_index == 0


def test_random_headers_and_bodies_only_ever_raise_ingress_errors() -> None:
    rng = random.Random(20240601)
    key = Ed25519PrivateKey.generate()
    v = verifier(secrets=[SECRET, OTHER_SECRET], public_keys=[key.public_key()])
    pieces = [SIGNATURE, VALID_B64, sign_ed25519(key, MSG_ID, TS, BODY), str(TS), MSG_ID]
    pieces += ["v1", "v1a", "v2", ",", "v1,", "v1a,", "=", "==", "+", "-", " ", "\x00", "\n", "é"]

    def junk() -> str:
        match rng.randrange(4):
            case 0:
                return rng.randbytes(rng.randrange(64)).decode("latin-1")
            case 1:
                return "".join(rng.choices(string.printable, k=rng.randrange(64)))
            case 2:
                return "".join(chr(rng.randrange(0x110000)) for _ in range(rng.randrange(16)))
            case _:
                return "".join(rng.choices(pieces, k=rng.randrange(8)))

    outcomes: set[str] = set()
    for _ in range(3000):
        h = mutate(headers(), rng, junk, drop=0.1, change=0.5)
        body = BODY if rng.random() < 0.5 else rng.randbytes(rng.randrange(128))
        outcomes.add(outcome(v.verify, h, body, now=TS + rng.uniform(-1000, 1000)))
    # The generator reached the success path and every refusal, not just the first check.
    assert outcomes >= EVERY_OUTCOME


# --- the standardwebhooks library as an independent implementation ----------------------------


def test_signature_made_by_the_standardwebhooks_library_verifies() -> None:
    body = '{"type": "invoice.paid", "data": {"id": "in_1", "note": "naïve"}}'
    stamp = datetime.fromtimestamp(TS, tz=UTC)
    their_sig = Webhook(SECRET_TEXT).sign(MSG_ID, stamp, body)
    assert verifier().verify(headers(their_sig), body.encode(), now=TS).event_id == MSG_ID


def test_our_signature_verifies_with_the_standardwebhooks_library() -> None:
    now = int(time.time())  # the library checks against the real clock
    body = b'{"type": "invoice.paid", "data": {"id": "in_1"}}'
    ours = sign(SECRET, MSG_ID, now, body) + " " + sign(OTHER_SECRET, MSG_ID, now, body)
    parsed = Webhook(SECRET_TEXT).verify(body, headers(ours, ts=str(now)))
    assert parsed["data"]["id"] == "in_1"


# --- what errors may say ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sig_header", "now", "expected"),
    [
        (SIGNATURE[:-2] + "A=", TS, SignatureMismatch),
        (SIGNATURE, TS + 10_000, TimestampTooOld),
        (SIGNATURE, TS - 10_000, TimestampInFuture),
        ("v1,junk", TS, MalformedHeader),
        ("v1a," + b64(b"x" * 64), TS, MissingSignature),
    ],
    ids=["mismatch", "too-old", "in-future", "malformed", "no-usable-entry"],
)
def test_error_detail_never_contains_the_secret_or_the_expected_signature(
    sig_header: str, now: float, expected: type[IngressError]
) -> None:
    with pytest.raises(expected) as exc_info:
        verifier().verify(headers(sig_header), BODY, now=now)
    text = f"{exc_info.value.detail} {exc_info.value!r}"
    for secret_form in (SECRET_TEXT, SECRET_TEXT.removeprefix("whsec_"), SECRET.decode("latin-1")):
        assert secret_form not in text
    assert VALID_B64 not in text
    assert BODY.decode() not in text
