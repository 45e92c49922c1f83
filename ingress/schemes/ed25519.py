"""Ed25519 signature checks through libsodium (PyNaCl).

A delivery signed with Ed25519 (fal, Standard Webhooks ``v1a``) spends most of its CPU on this
one check. libsodium's took 64-72 us per check on this machine, cryptography's (OpenSSL)
121-128 us, interleaved on one pinned core (BENCHMARKS.md, fifth round). Keys are still parsed,
and signatures made for tests and ``hookgate send``, with cryptography; only the check runs here.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from nacl.bindings import crypto_sign_BYTES, crypto_sign_open
from nacl.exceptions import BadSignatureError


class VerifyingKey:
    """One Ed25519 public key, ready to check signatures."""

    __slots__ = ("_raw", "key")

    def __init__(self, key: Ed25519PublicKey) -> None:
        self.key = key
        self._raw = key.public_bytes_raw()

    def verifies(self, signature: bytes, message: bytes) -> bool:
        """True when ``signature`` is this key's Ed25519 signature of ``message``."""
        if len(signature) != crypto_sign_BYTES:
            return False
        try:
            # libsodium checks a signed message: the signature, then the message.
            crypto_sign_open(signature + message, self._raw)
        except BadSignatureError:
            return False
        return True
