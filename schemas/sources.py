"""A source's configuration: the keys every source has, and one model per provider's options.

``provider:`` selects the model (a discriminated union), so a key that the provider does not
take fails at start, in every process, with its path. What needs the verifier's own knowledge
(decoding a secret, parsing a public key, whether a provider signs a timestamp) is checked by
the provider adapter when the ingress builds its verifier, with the same kind of error.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from schemas.secrets import Secret, TextRef
from schemas.types import Between

_SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
# An HTTP field name (RFC 9110 token).
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}")
_URL_SAFE = re.compile(r"[A-Za-z0-9._~-]{1,64}")

#: The default ``fal`` key set (``jwks_url`` absent and no ``public_keys``).
FAL_JWKS_URL = "https://rest.alpha.fal.ai/.well-known/jwks.json"


def _source_name(value: str) -> str:
    if not _SOURCE_NAME.match(value):
        raise PydanticCustomError(
            "config",
            "{name}: use lower-case letters, digits, '.', '_', '-'"
            " (it becomes part of the URL and of record keys)",
            {"name": repr(value)},
        )
    return value


def _header_name(value: str) -> str:
    if not _HEADER_NAME.fullmatch(value):
        raise PydanticCustomError(
            "config", "{value} is not an HTTP header name", {"value": repr(value[:64])}
        )
    return value.lower()


def _url_safe(value: str) -> str:
    if not _URL_SAFE.fullmatch(value):
        raise PydanticCustomError("config", "must be 1-64 URL-safe characters")
    return value


SourceName = Annotated[
    str, Field(json_schema_extra={"pattern": _SOURCE_NAME.pattern}), AfterValidator(_source_name)
]
#: An HTTP header name, lower-cased.
HeaderName = Annotated[
    str,
    Field(json_schema_extra={"pattern": f"^{_HEADER_NAME.pattern}$"}),
    AfterValidator(_header_name),
]
#: A body size limit: up to 64 MiB.
BodyBytes = Annotated[int, Between(1, 64 * 1_048_576)]
Seconds = Annotated[
    int, Between(1, 30 * 86_400, reason="must be a whole number of seconds, 1..2592000")
]


class SourceSettings(BaseModel):
    """The keys of every source. Each provider's model adds its options."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Served at ``POST /webhooks/{name}``; also the first part of every record key.
    name: SourceName
    #: Which provider adapter verifies it.
    provider: str
    #: Shared secrets, several at once during a rotation; the first one signs ``hookgate send``.
    secrets: tuple[Secret, ...] = ()
    #: Public keys (Ed25519) for providers that sign asymmetrically.
    public_keys: tuple[TextRef, ...] = ()
    #: Accepted clock difference in seconds; unset means the provider's default.
    tolerance: Annotated[int, Between(1, 30 * 86_400)] | None = None
    #: Larger bodies are refused with 413 without being read.
    max_body_bytes: BodyBytes = 1_048_576


class SignedSource(SourceSettings):
    """Providers configured by their secrets (and, for ``standard-webhooks``, public keys) only."""

    provider: Literal[
        "standard-webhooks",
        "stripe",
        "mux",
        "elevenlabs",
        "slack",
        "github",
        "pagerduty",
        "shopify",
        "svix",
        "clerk",
        "resend",
        "replicate",
        "openai",
        "anthropic",
    ]


class TwilioSource(SourceSettings):
    provider: Literal["twilio"]
    #: The URL as configured in Twilio, when the ingress sits behind a proxy.
    public_url: str | None = None
    #: Twilio's callbacks are a few KB, and its form is parsed before the signature is known
    #: to match: a small default keeps what an unsigned body costs small.
    max_body_bytes: BodyBytes = 65_536


class FalSource(SourceSettings):
    provider: Literal["fal"]
    #: fal's key set. Absent: fal's own URL unless ``public_keys`` are given; ``null``: none.
    jwks_url: str | None = None
    #: The fetched key set is refreshed in the background once older than this.
    jwks_cache_s: Seconds = 86_400
    #: At most one fetch per this many seconds, however many deliveries fail to verify.
    jwks_min_refresh_s: Seconds = 60

    @field_validator("jwks_url")
    @classmethod
    def _https_or_loopback(cls, url: str | None) -> str | None:
        if url is None:
            return None
        parts = urlsplit(url)
        if parts.scheme == "https" and parts.hostname:
            return url
        if parts.scheme == "http" and parts.hostname:
            host = parts.hostname
            try:
                if host == "localhost" or ipaddress.ip_address(host).is_loopback:
                    return url
            except ValueError:
                pass
        raise PydanticCustomError(
            "config", "must be an https:// URL (http:// only to a loopback address)"
        )

    @property
    def key_set_url(self) -> str | None:
        """The JWKS URL to fetch, after the defaults (see ``jwks_url``)."""
        if "jwks_url" in self.model_fields_set:
            return self.jwks_url
        return None if self.public_keys else FAL_JWKS_URL


class LumaSource(SourceSettings):
    provider: Literal["luma"]
    #: The query parameter that carries the token (when it is not the last path segment).
    token_param: Annotated[str, AfterValidator(_url_safe)] = "token"  # noqa: S105 - a name


class _EventIdOptions(SourceSettings):
    #: The header that carries the event id (the de-duplication key).
    event_id_header: HeaderName | None = None
    #: Else a JSON pointer into the body (``/data/id``); else the body's digest.
    event_id_pointer: str | None = None


class GenericHmacSource(_EventIdOptions):
    provider: Literal["generic-hmac"]
    #: The header that carries the signature.
    header: HeaderName
    #: Text before the signature in the header (``sha256=``).
    prefix: str = ""
    #: The HMAC's hash function.
    algorithm: Literal["sha1", "sha256", "sha512"] = "sha256"
    #: How the signature header writes the digest.
    encoding: Literal["hex", "base64"] = "hex"
    #: The signed timestamp's header; then ``{timestamp}{separator}{body}`` is signed.
    timestamp_header: HeaderName | None = None
    #: Between timestamp and body; only with ``timestamp_header``.
    separator: str = "."

    @field_validator("separator")
    @classmethod
    def _only_when_timestamped(cls, value: str, info: ValidationInfo) -> str:
        # Runs only when the key is given (defaults are not validated).
        if info.data.get("timestamp_header") is None:
            raise PydanticCustomError("config", "applies only with a timestamp_header")
        return value


class BasicAuthSource(_EventIdOptions):
    provider: Literal["basic-auth"]


class ApiKeySource(_EventIdOptions):
    provider: Literal["api-key"]
    #: The header that carries the key.
    header: HeaderName = "x-api-key"


#: Every source model, selected by ``provider:``.
AnySource = Annotated[
    SignedSource
    | TwilioSource
    | FalSource
    | LumaSource
    | GenericHmacSource
    | BasicAuthSource
    | ApiKeySource,
    Field(discriminator="provider"),
]


def _providers_of(model: type[SourceSettings]) -> tuple[str, ...]:
    annotation: Any = model.model_fields["provider"].annotation
    return tuple(annotation.__args__)


#: Provider name -> the model of its sources' configuration.
SOURCE_MODELS: dict[str, type[SourceSettings]] = {
    name: model
    for model in (
        SignedSource,
        TwilioSource,
        FalSource,
        LumaSource,
        GenericHmacSource,
        BasicAuthSource,
        ApiKeySource,
    )
    for name in _providers_of(model)
}
