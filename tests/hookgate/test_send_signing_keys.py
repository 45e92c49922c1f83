"""Sender-side keys are `hookgate send`'s, not the configuration's: a provider that signs with a
private key (fal) is played only with a key given to `send`, and the development config's key lives
beside that config."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hookgate.send import SendError, dev_signing_key, send
from ingress.schemes.jwks import decode_public_key
from schemas.config import load, parse
from tests import REPO

DEV_CONFIG = REPO / "hookgate" / "samples" / "dev.yaml"


def test_a_fal_source_without_a_signing_key_given_to_send_is_a_clear_error() -> None:
    public = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    x = base64.urlsafe_b64encode(public).decode()
    settings = parse({"sources": [{"name": "fal", "provider": "fal", "public_keys": [x]}]}, env={})
    with pytest.raises(SendError, match="--signing-key"):
        send(settings, "fal", url="http://127.0.0.1:9/webhooks/fal")


def test_the_development_signing_key_is_the_private_half_of_the_dev_configs_fal_key() -> None:
    seed = dev_signing_key("fal")
    assert seed is not None
    private = Ed25519PrivateKey.from_private_bytes(base64.b64decode(seed))
    configured = load(DEV_CONFIG, env={}).sources["fal"].public_keys
    expected = decode_public_key(configured[0]).public_bytes_raw()
    assert private.public_key().public_bytes_raw() == expected


def test_sources_without_a_development_key_have_none() -> None:
    assert dev_signing_key("stripe") is None


def test_hookgate_send_plays_fal_of_the_development_config_with_its_bundled_key(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from hookgate.cli import main

    # Port 9 refuses: signing succeeded when the error is about reaching the ingress.
    url = "http://127.0.0.1:9/webhooks/fal"
    assert main(["send", "fal", "--config", str(DEV_CONFIG), "--url", url]) == 1
    assert "cannot reach the ingress" in capsys.readouterr().err
