"""Webhook signatures: verify a request's raw body and headers, or build valid headers (pure).

Schemes (`TriggerConfig.signature_scheme`), all HMAC-SHA256 over the raw body bytes:

- `generic`: `X-Webhook-Signature: sha256=<hex MAC(body)>`.
- `github`: `X-Hub-Signature-256` in the same format; the delivery id is `X-GitHub-Delivery`.
- `stripe`: `Stripe-Signature: t=<unix>,v1=<hex MAC("<t>.<body>")>`; several `v1` may be sent
  while a secret is rotated, and one matching is enough.
- `slack`: `X-Slack-Signature: v0=<hex MAC("v0:<ts>:<body>")>` with `X-Slack-Request-Timestamp`.
- `standard` (Standard Webhooks): `webhook-id`, `webhook-timestamp` and `webhook-signature:
  v1,<base64> [v1,<base64> ...]` over `"<id>.<ts>.<body>"`. A secret written `whsec_<base64>` is
  the base64-decoded key; any other secret is used as its UTF-8 bytes.

Digests are compared with `hmac.compare_digest` on bytes. Header names are case-insensitive.
Any fault in the request (a missing, repeated, malformed or non-ASCII header, a wrong MAC, a
timestamp outside the tolerance, a replay) raises `SignatureError` and nothing else. The
timestamped schemes (stripe, slack, standard) also claim a replay key in a `ReplayGuard`, so the
same delivery (standard: the same `webhook-id`; stripe and slack: the same signed content) is
accepted once while its timestamp is within the tolerance. Time is passed in, never read here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import heapq
import hmac
import re
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = [
    "SCHEMES",
    "SIGNATURE_HEADERS",
    "TIMESTAMPED_SCHEMES",
    "ReplayGuard",
    "ReplayedDelivery",
    "SignatureError",
    "Verified",
    "Verifier",
    "secret_key",
    "sign",
]

SCHEMES: tuple[str, ...] = ("generic", "github", "stripe", "slack", "standard")
"""The signature schemes a webhook trigger can verify."""

TIMESTAMPED_SCHEMES = frozenset({"stripe", "slack", "standard"})
"""Schemes whose signature covers a timestamp, so stale requests and replays are refused."""

SIGNATURE_HEADERS = frozenset({
    "x-webhook-signature",
    "x-hub-signature",
    "x-hub-signature-256",
    "stripe-signature",
    "x-slack-signature",
    "webhook-signature",
})
"""Lower-case names of the headers that carry signatures (kept out of event metadata)."""

_HEX_MAC = re.compile(r"[0-9a-fA-F]{64}")
_TIMESTAMP = re.compile(r"[0-9]{1,15}")
_MAX_ID = 256
_WHSEC = "whsec_"


class SignatureError(ValueError):
    """A request's signature is missing, malformed, stale, replayed or wrong."""


class ReplayedDelivery(SignatureError):
    """A correctly signed request whose delivery was already taken (a retry, or a replay)."""


@dataclass(frozen=True)
class Verified:
    """A verified request: its provider delivery id and signed timestamp, when the scheme has them.

    `replay_key` is what the `ReplayGuard` remembers (None for schemes without a timestamp).
    """

    scheme: str
    delivery_id: str | None = None
    timestamp: float | None = None
    replay_key: str | None = None


class ReplayGuard:
    """Remembers claimed keys until they expire; bounded, so the oldest expiry goes first when full.

    Not thread-safe: a webhook uses it from the io loop only. Eviction can only be forced by
    more than `max_entries` authentic deliveries within one tolerance window.
    """

    def __init__(self, max_entries: int = 100_000) -> None:
        if max_entries < 1:
            msg = f"max_entries: must be >= 1, got {max_entries}"
            raise ValueError(msg)
        self.max_entries = max_entries
        self._expiry: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []

    def __len__(self) -> int:
        return len(self._expiry)

    def claim(self, key: str, expires: float, now: float) -> bool:
        """Remember `key` until `expires`; False if it is already remembered (a replay)."""
        self._prune(now)
        if key in self._expiry:
            return False
        if len(self._expiry) >= self.max_entries:
            self._evict_one()
        self._expiry[key] = expires
        heapq.heappush(self._heap, (expires, key))
        if len(self._heap) > 2 * self.max_entries:
            self._heap = [(when, k) for k, when in self._expiry.items()]
            heapq.heapify(self._heap)
        return True

    def release(self, key: str) -> None:
        """Forget `key`, so the same delivery is accepted again (used when it was not taken)."""
        self._expiry.pop(key, None)

    def _live(self, when: float, key: str) -> bool:
        return self._expiry.get(key) == when

    def _prune(self, now: float) -> None:
        while self._heap and self._heap[0][0] <= now:
            when, key = heapq.heappop(self._heap)
            if self._live(when, key):
                del self._expiry[key]

    def _evict_one(self) -> None:
        while self._heap:
            when, key = heapq.heappop(self._heap)
            if self._live(when, key):
                del self._expiry[key]
                return


def secret_key(scheme: str, secret: str) -> bytes:
    """The MAC key for `secret` under `scheme`; raises `ValueError` for a bad scheme or secret."""
    if scheme not in SCHEMES:
        msg = f"signature_scheme: expected one of {list(SCHEMES)}, got {scheme!r}"
        raise ValueError(msg)
    if not isinstance(secret, str) or not secret:
        msg = "hmac_secret: must be a non-empty string"
        raise ValueError(msg)
    if scheme == "standard" and secret.startswith(_WHSEC):
        try:
            key = base64.b64decode(secret[len(_WHSEC):], validate=True)
        except (binascii.Error, ValueError):
            msg = "hmac_secret: a 'whsec_' secret must be followed by valid base64"
            raise ValueError(msg) from None
        if not key:
            msg = "hmac_secret: the 'whsec_' secret is empty"
            raise ValueError(msg)
        return key
    return secret.encode("utf-8")


class _Headers:
    """Case-insensitive view of request headers that keeps repeated names apart."""

    def __init__(self, headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> None:
        pairs = headers.items() if isinstance(headers, Mapping) else headers
        self._values: dict[str, list[str]] = {}
        for name, value in pairs:
            self._values.setdefault(str(name).lower(), []).append(value)

    def get(self, name: str) -> str | None:
        """The single ASCII value of header `name` (stripped), or None when absent."""
        values = self._values.get(name.lower())
        if values is None:
            return None
        if len(values) != 1:
            msg = f"{name} header is repeated"
            raise SignatureError(msg)
        value = values[0]
        if not isinstance(value, str) or not value.isascii():
            msg = f"{name} header is not ASCII text"
            raise SignatureError(msg)
        return value.strip()

    def require(self, name: str) -> str:
        """Like `get`, but a missing or empty header is a `SignatureError`."""
        value = self.get(name)
        if not value:
            msg = f"missing {name} header"
            raise SignatureError(msg)
        return value


def _mac(key: bytes, *parts: bytes) -> bytes:
    mac = hmac.new(key, digestmod=hashlib.sha256)
    for part in parts:
        mac.update(part)
    return mac.digest()


def _hex_digest(text: str, name: str) -> bytes:
    if not _HEX_MAC.fullmatch(text):
        msg = f"{name} header: expected 64 hex digits"
        raise SignatureError(msg)
    return bytes.fromhex(text)


def _prefixed_hex(value: str, prefix: str, name: str) -> bytes:
    if not value.startswith(prefix):
        msg = f"{name} header: expected '{prefix}<hex>'"
        raise SignatureError(msg)
    return _hex_digest(value[len(prefix):], name)


def _timestamp(text: str, name: str) -> int:
    if not _TIMESTAMP.fullmatch(text):
        msg = f"{name}: expected a unix time in whole seconds"
        raise SignatureError(msg)
    return int(text)


def _any_equal(expected: bytes, candidates: Iterable[bytes]) -> bytes | None:
    """The candidate equal to `expected` (constant time per candidate), or None."""
    found = None
    for candidate in candidates:
        if hmac.compare_digest(expected, candidate) and found is None:
            found = candidate
    return found


class Verifier:
    """Checks requests for one trigger: its scheme, secret, tolerance and replay guard.

    Raises `ValueError` at construction for an unknown scheme or a bad secret, so a
    misconfigured trigger fails when it starts rather than on every request.
    """

    def __init__(
        self,
        scheme: str,
        secret: str,
        *,
        tolerance: float = 300.0,
        guard: ReplayGuard | None = None,
    ) -> None:
        self._key = secret_key(scheme, secret)
        if tolerance <= 0:
            msg = f"signature_tolerance: must be > 0, got {tolerance}"
            raise ValueError(msg)
        self.scheme = scheme
        self.tolerance = tolerance
        self.guard = guard if guard is not None else ReplayGuard()

    def __repr__(self) -> str:
        return f"Verifier({self.scheme!r}, tolerance={self.tolerance})"

    def verify(
        self,
        body: bytes,
        headers: Mapping[str, str] | Iterable[tuple[str, str]],
        *,
        now: float,
    ) -> Verified:
        """Check `body` and `headers` at wall time `now`; raise `SignatureError` if they fail."""
        view = _Headers(headers)
        if self.scheme == "generic":
            return self._plain(body, view, "X-Webhook-Signature", None)
        if self.scheme == "github":
            return self._plain(body, view, "X-Hub-Signature-256", "X-GitHub-Delivery")
        if self.scheme == "stripe":
            return self._stripe(body, view, now)
        if self.scheme == "slack":
            return self._slack(body, view, now)
        return self._standard(body, view, now)

    def forget(self, verified: Verified) -> None:
        """Let the same delivery in again: it was verified but not taken (the process refused)."""
        if verified.replay_key is not None:
            self.guard.release(verified.replay_key)

    def _plain(self, body: bytes, view: _Headers, header: str, id_header: str | None) -> Verified:
        given = _prefixed_hex(view.require(header), "sha256=", header)
        delivery_id = _delivery_id(view, id_header) if id_header is not None else None
        if _any_equal(_mac(self._key, body), [given]) is None:
            msg = "signature does not match"
            raise SignatureError(msg)
        return Verified(self.scheme, delivery_id=delivery_id)

    def _stripe(self, body: bytes, view: _Headers, now: float) -> Verified:
        header = view.require("Stripe-Signature")
        stamps: list[str] = []
        candidates: list[bytes] = []
        for item in header.split(","):
            name, sep, value = item.strip().partition("=")
            if not sep or not name or not value:
                msg = "Stripe-Signature header: expected 't=<unix>,v1=<hex>'"
                raise SignatureError(msg)
            if name == "t":
                stamps.append(value)
            elif name == "v1":
                candidates.append(_hex_digest(value, "Stripe-Signature"))
        if len(stamps) != 1 or not candidates:
            msg = "Stripe-Signature header: needs exactly one t= and at least one v1="
            raise SignatureError(msg)
        ts = self._fresh(stamps[0], "Stripe-Signature t", now)
        matched = _any_equal(_mac(self._key, stamps[0].encode(), b".", body), candidates)
        if matched is None:
            msg = "no v1 signature matches"
            raise SignatureError(msg)
        return self._claimed(f"stripe:{matched.hex()}", ts, now, None)

    def _slack(self, body: bytes, view: _Headers, now: float) -> Verified:
        given = _prefixed_hex(view.require("X-Slack-Signature"), "v0=", "X-Slack-Signature")
        stamp = view.require("X-Slack-Request-Timestamp")
        ts = self._fresh(stamp, "X-Slack-Request-Timestamp", now)
        if _any_equal(_mac(self._key, b"v0:", stamp.encode(), b":", body), [given]) is None:
            msg = "signature does not match"
            raise SignatureError(msg)
        return self._claimed(f"slack:{given.hex()}", ts, now, None)

    def _standard(self, body: bytes, view: _Headers, now: float) -> Verified:
        delivery_id = _delivery_id(view, "webhook-id")
        if delivery_id is None:
            msg = "missing webhook-id header"
            raise SignatureError(msg)
        stamp = view.require("webhook-timestamp")
        ts = self._fresh(stamp, "webhook-timestamp", now)
        candidates: list[bytes] = []
        for token in view.require("webhook-signature").split():
            version, sep, encoded = token.partition(",")
            if not sep or not version:
                msg = "webhook-signature header: expected 'v1,<base64>' entries"
                raise SignatureError(msg)
            if version != "v1":
                continue
            try:
                candidates.append(base64.b64decode(encoded, validate=True))
            except (binascii.Error, ValueError):
                msg = "webhook-signature header: a v1 signature is not valid base64"
                raise SignatureError(msg) from None
        if not candidates:
            msg = "webhook-signature header: no v1 signature"
            raise SignatureError(msg)
        signed = _mac(self._key, delivery_id.encode(), b".", stamp.encode(), b".", body)
        if _any_equal(signed, candidates) is None:
            msg = "no v1 signature matches"
            raise SignatureError(msg)
        return self._claimed(f"standard:{delivery_id}", ts, now, delivery_id)

    def _fresh(self, stamp: str, name: str, now: float) -> int:
        ts = _timestamp(stamp, name)
        if abs(now - ts) > self.tolerance:
            msg = f"{name} is more than {self.tolerance:g} s away from now"
            raise SignatureError(msg)
        return ts

    def _claimed(self, key: str, ts: int, now: float, delivery_id: str | None) -> Verified:
        if not self.guard.claim(key, ts + self.tolerance, now):
            msg = "replayed delivery"
            raise ReplayedDelivery(msg)
        return Verified(self.scheme, delivery_id=delivery_id, timestamp=float(ts), replay_key=key)


def _delivery_id(view: _Headers, header: str) -> str | None:
    value = view.get(header)
    if not value:
        return None
    if len(value) > _MAX_ID or any(char.isspace() for char in value):
        msg = f"{header} header: expected an id of at most {_MAX_ID} characters, no spaces"
        raise SignatureError(msg)
    return value


def sign(
    scheme: str,
    secret: str,
    body: bytes,
    *,
    timestamp: float | None = None,
    delivery_id: str | None = None,
) -> dict[str, str]:
    """Headers that make `body` verify under `scheme` (for tests, benchmarks and clients).

    `timestamp` defaults to the current time; a `standard` delivery without `delivery_id`
    gets a random `msg_...` id. Raises `ValueError` for a bad scheme or secret.
    """
    key = secret_key(scheme, secret)
    stamp = str(int(time.time() if timestamp is None else timestamp))
    if scheme == "generic":
        return {"X-Webhook-Signature": "sha256=" + _mac(key, body).hex()}
    if scheme == "github":
        headers = {"X-Hub-Signature-256": "sha256=" + _mac(key, body).hex()}
        if delivery_id is not None:
            headers["X-GitHub-Delivery"] = delivery_id
        return headers
    if scheme == "stripe":
        mac = _mac(key, stamp.encode(), b".", body).hex()
        return {"Stripe-Signature": f"t={stamp},v1={mac}"}
    if scheme == "slack":
        mac = _mac(key, b"v0:", stamp.encode(), b":", body).hex()
        return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={mac}"}
    msg_id = delivery_id if delivery_id is not None else f"msg_{uuid.uuid4().hex}"
    mac_b64 = base64.b64encode(_mac(key, msg_id.encode(), b".", stamp.encode(), b".", body))
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": stamp,
        "webhook-signature": "v1," + mac_b64.decode("ascii"),
    }
