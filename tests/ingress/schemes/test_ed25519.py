"""The Ed25519 check (ingress/schemes/ed25519.py, libsodium) against signatures that
cryptography (OpenSSL), an independent implementation, made."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ingress.schemes.ed25519 import VerifyingKey

SIGNER = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
MESSAGE = b"msg_1.1700000000.{}"
KEY = VerifyingKey(SIGNER.public_key())


def test_a_signature_of_the_message_by_the_key_verifies() -> None:
    assert KEY.verifies(SIGNER.sign(MESSAGE), MESSAGE) is True


def test_a_signature_of_another_message_does_not_verify() -> None:
    assert KEY.verifies(SIGNER.sign(MESSAGE), MESSAGE + b" ") is False


def test_a_signature_by_another_key_does_not_verify() -> None:
    other = Ed25519PrivateKey.generate()
    assert KEY.verifies(other.sign(MESSAGE), MESSAGE) is False


def test_a_signature_with_one_bit_flipped_does_not_verify() -> None:
    signature = bytearray(SIGNER.sign(MESSAGE))
    signature[40] ^= 1
    assert KEY.verifies(bytes(signature), MESSAGE) is False


def test_a_signature_of_the_wrong_length_does_not_verify() -> None:
    assert KEY.verifies(SIGNER.sign(MESSAGE)[:63], MESSAGE) is False
    assert KEY.verifies(SIGNER.sign(MESSAGE) + b"\0", MESSAGE) is False
