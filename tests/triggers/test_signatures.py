"""Pure tests of webhook signature schemes, the replay guard and `sign`."""

from __future__ import annotations

import base64

import pytest

from greenroom.triggers.signatures import (
    SCHEMES,
    TIMESTAMPED_SCHEMES,
    ReplayGuard,
    SignatureError,
    Verifier,
    secret_key,
    sign,
)

NOW = 1_767_225_600.0
BODY = b'{"action": "opened", "n": 1}'
SECRET = "s3cret-value"


def verifier(scheme: str, secret: str = SECRET, tolerance: float = 300.0) -> Verifier:
    return Verifier(scheme, secret, tolerance=tolerance, guard=ReplayGuard())


# Published examples --------------------------------------------------------------------------

def test_github_published_example() -> None:
    headers = {"X-Hub-Signature-256":
               "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"}
    result = verifier("github", "It's a Secret to Everybody").verify(
        b"Hello, World!", headers, now=NOW)
    assert result.scheme == "github"
    assert result.delivery_id is None


def test_slack_published_example() -> None:
    body = (
        b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id="
        b"G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook"
        b"-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F3977"
        b"00885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d"
        b"10d2c447fce8b6703c"
    )
    headers = {
        "X-Slack-Request-Timestamp": "1531420618",
        "X-Slack-Signature":
            "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
    }
    result = verifier("slack", "8f742231b10e8888abcd99yyyzzz85a5").verify(
        body, headers, now=1531420618 + 10)
    assert result.timestamp == 1531420618.0


def test_standard_webhooks_published_example() -> None:
    headers = {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }
    result = verifier("standard", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").verify(
        b'{"test": 2432232314}', headers, now=1614265330)
    assert result.delivery_id == "msg_p5jXN8AQM9LWM0D4loKWxJek"


# Round trips ---------------------------------------------------------------------------------

@pytest.mark.parametrize("scheme", SCHEMES)
def test_sign_then_verify(scheme: str) -> None:
    headers = sign(scheme, SECRET, BODY, timestamp=NOW, delivery_id="d-1")
    result = verifier(scheme).verify(BODY, headers, now=NOW + 5)
    assert result.scheme == scheme
    if scheme in TIMESTAMPED_SCHEMES:
        assert result.timestamp == NOW
        assert result.replay_key is not None
    else:
        assert result.timestamp is None
        assert result.replay_key is None
    assert result.delivery_id == ("d-1" if scheme in ("github", "standard") else None)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_header_names_are_case_insensitive(scheme: str) -> None:
    headers = {k.upper(): v for k, v in sign(scheme, SECRET, BODY, timestamp=NOW).items()}
    verifier(scheme).verify(BODY, headers, now=NOW)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_header_pairs_are_accepted(scheme: str) -> None:
    pairs = list(sign(scheme, SECRET, BODY, timestamp=NOW).items())
    verifier(scheme).verify(BODY, pairs, now=NOW)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_wrong_secret(scheme: str) -> None:
    headers = sign(scheme, "another-secret", BODY, timestamp=NOW)
    with pytest.raises(SignatureError, match="match"):
        verifier(scheme).verify(BODY, headers, now=NOW)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_changed_body(scheme: str) -> None:
    headers = sign(scheme, SECRET, BODY, timestamp=NOW)
    with pytest.raises(SignatureError):
        verifier(scheme).verify(BODY + b" ", headers, now=NOW)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_missing_headers(scheme: str) -> None:
    with pytest.raises(SignatureError, match="missing"):
        verifier(scheme).verify(BODY, {}, now=NOW)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_non_ascii_header_is_a_signature_error(scheme: str) -> None:
    headers = sign(scheme, SECRET, BODY, timestamp=NOW)
    for name in headers:
        spoiled = dict(headers)
        spoiled[name] = headers[name][:-1] + "\u00e9"
        with pytest.raises(SignatureError, match="ASCII"):
            verifier(scheme).verify(BODY, spoiled, now=NOW)
    surrogate = {name: value + "\udcff" for name, value in headers.items()}
    with pytest.raises(SignatureError, match="ASCII"):
        verifier(scheme).verify(BODY, surrogate, now=NOW)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_repeated_signature_header_is_refused(scheme: str) -> None:
    headers = sign(scheme, SECRET, BODY, timestamp=NOW)
    name = next(n for n in headers if "signature" in n.lower())
    pairs = [*headers.items(), (name.lower(), headers[name])]
    with pytest.raises(SignatureError, match="repeated"):
        verifier(scheme).verify(BODY, pairs, now=NOW)


MALFORMED = [
    ("generic", {"X-Webhook-Signature": "sha1=abcd"}),
    ("generic", {"X-Webhook-Signature": "sha256=" + "g" * 64}),
    ("generic", {"X-Webhook-Signature": "sha256=" + "a" * 63}),
    ("github", {"X-Hub-Signature-256": "deadbeef"}),
    ("github", {"X-Hub-Signature-256": ""}),
    ("stripe", {"Stripe-Signature": "garbage"}),
    ("stripe", {"Stripe-Signature": f"t={int(NOW)}"}),
    ("stripe", {"Stripe-Signature": "v1=" + "a" * 64}),
    ("stripe", {"Stripe-Signature": f"t={int(NOW)},t={int(NOW)},v1={'a' * 64}"}),
    ("stripe", {"Stripe-Signature": f"t=soon,v1={'a' * 64}"}),
    ("stripe", {"Stripe-Signature": f"t={int(NOW)},v1=xyz"}),
    ("stripe", {"Stripe-Signature": f"t={int(NOW)},,v1={'a' * 64}"}),
    ("slack", {"X-Slack-Signature": "v0=" + "a" * 64}),
    ("slack", {"X-Slack-Signature": "v1=" + "a" * 64, "X-Slack-Request-Timestamp": "1"}),
    ("slack", {"X-Slack-Signature": "v0=" + "a" * 64, "X-Slack-Request-Timestamp": "-5"}),
    ("slack", {"X-Slack-Signature": "v0=" + "a" * 64, "X-Slack-Request-Timestamp": "1e9"}),
    ("standard", {"webhook-id": "m", "webhook-timestamp": str(int(NOW)),
                  "webhook-signature": "v1,not base64!"}),
    ("standard", {"webhook-id": "m", "webhook-timestamp": str(int(NOW)),
                  "webhook-signature": "v1a,AAAA"}),
    ("standard", {"webhook-id": "m", "webhook-timestamp": str(int(NOW)),
                  "webhook-signature": "nocomma"}),
    ("standard", {"webhook-id": "m", "webhook-timestamp": "12.5",
                  "webhook-signature": "v1,AAAA"}),
    ("standard", {"webhook-timestamp": str(int(NOW)), "webhook-signature": "v1,AAAA"}),
    ("standard", {"webhook-id": "a b", "webhook-timestamp": str(int(NOW)),
                  "webhook-signature": "v1,AAAA"}),
    ("standard", {"webhook-id": "x" * 300, "webhook-timestamp": str(int(NOW)),
                  "webhook-signature": "v1,AAAA"}),
]


@pytest.mark.parametrize(("scheme", "headers"), MALFORMED)
def test_malformed_headers(scheme: str, headers: dict[str, str]) -> None:
    with pytest.raises(SignatureError):
        verifier(scheme).verify(BODY, headers, now=NOW)


@pytest.mark.parametrize("scheme", sorted(TIMESTAMPED_SCHEMES))
@pytest.mark.parametrize("offset", [-301.0, 301.0, -1e6])
def test_timestamp_outside_tolerance(scheme: str, offset: float) -> None:
    headers = sign(scheme, SECRET, BODY, timestamp=NOW + offset)
    with pytest.raises(SignatureError, match="away from now"):
        verifier(scheme).verify(BODY, headers, now=NOW)


@pytest.mark.parametrize("scheme", sorted(TIMESTAMPED_SCHEMES))
def test_timestamp_at_the_edge_of_tolerance(scheme: str) -> None:
    check = verifier(scheme)
    check.verify(BODY, sign(scheme, SECRET, BODY, timestamp=NOW - 300), now=NOW)
    check.verify(BODY, sign(scheme, SECRET, BODY, timestamp=NOW + 300), now=NOW)


@pytest.mark.parametrize("scheme", sorted(TIMESTAMPED_SCHEMES))
def test_replay_is_refused_and_forget_lets_it_in(scheme: str) -> None:
    check = verifier(scheme)
    headers = sign(scheme, SECRET, BODY, timestamp=NOW)
    first = check.verify(BODY, headers, now=NOW)
    with pytest.raises(SignatureError, match="replayed"):
        check.verify(BODY, headers, now=NOW + 1)
    check.forget(first)
    check.verify(BODY, headers, now=NOW + 2)


@pytest.mark.parametrize("scheme", ["generic", "github"])
def test_untimestamped_schemes_have_no_replay_state(scheme: str) -> None:
    check = verifier(scheme)
    headers = sign(scheme, SECRET, BODY)
    check.verify(BODY, headers, now=NOW)
    check.verify(BODY, headers, now=NOW)
    assert len(check.guard) == 0


def test_standard_same_id_is_a_replay_even_when_resigned() -> None:
    check = verifier("standard")
    check.verify(BODY, sign("standard", SECRET, BODY, timestamp=NOW, delivery_id="m1"), now=NOW)
    again = sign("standard", SECRET, BODY, timestamp=NOW + 10, delivery_id="m1")
    with pytest.raises(SignatureError, match="replayed"):
        check.verify(BODY, again, now=NOW + 10)
    other = sign("standard", SECRET, BODY, timestamp=NOW + 10, delivery_id="m2")
    assert check.verify(BODY, other, now=NOW + 10).delivery_id == "m2"


def test_stripe_several_v1_one_matching() -> None:
    good = sign("stripe", SECRET, BODY, timestamp=NOW)["Stripe-Signature"]
    stamp, v1 = good.split(",")
    header = f"{stamp},v1={'0' * 64},{v1},v0={'1' * 64}"
    result = verifier("stripe").verify(BODY, {"Stripe-Signature": header}, now=NOW)
    assert result.timestamp == NOW


def test_stripe_replay_with_only_one_of_the_signatures_is_refused() -> None:
    check = verifier("stripe")
    good = sign("stripe", SECRET, BODY, timestamp=NOW)["Stripe-Signature"]
    stamp, v1 = good.split(",")
    check.verify(BODY, {"Stripe-Signature": f"{stamp},v1={'0' * 64},{v1}"}, now=NOW)
    with pytest.raises(SignatureError, match="replayed"):
        check.verify(BODY, {"Stripe-Signature": f"{stamp},{v1}"}, now=NOW)


def test_standard_several_signatures_for_rotation() -> None:
    headers = sign("standard", SECRET, BODY, timestamp=NOW, delivery_id="m")
    old = base64.b64encode(b"\x00" * 32).decode()
    headers["webhook-signature"] = f"v1,{old} v1a,ignored {headers['webhook-signature']}"
    verifier("standard").verify(BODY, headers, now=NOW)


def test_standard_whsec_and_raw_secrets() -> None:
    raw_key = b"\x01\x02binary key\xff"
    whsec = "whsec_" + base64.b64encode(raw_key).decode()
    assert secret_key("standard", whsec) == raw_key
    assert secret_key("standard", "plain") == b"plain"
    assert secret_key("github", whsec) == whsec.encode()
    headers = sign("standard", whsec, BODY, timestamp=NOW)
    verifier("standard", whsec).verify(BODY, headers, now=NOW)
    with pytest.raises(SignatureError):
        verifier("standard", "whsec_b3RoZXI=").verify(BODY, headers, now=NOW)


@pytest.mark.parametrize(("scheme", "secret"), [
    ("standard", "whsec_***"), ("standard", "whsec_"), ("generic", ""), ("hmac-md5", "x"),
])
def test_bad_secret_or_scheme_fails_at_construction(scheme: str, secret: str) -> None:
    with pytest.raises(ValueError, match=r"hmac_secret|signature_scheme"):
        Verifier(scheme, secret)
    with pytest.raises(ValueError, match=r"hmac_secret|signature_scheme"):
        sign(scheme, secret, BODY)


def test_verifier_repr_hides_the_secret() -> None:
    assert SECRET not in repr(verifier("github"))


def test_sign_defaults() -> None:
    headers = sign("standard", SECRET, BODY)
    assert headers["webhook-id"].startswith("msg_")
    assert headers["webhook-timestamp"].isdigit()
    assert "X-GitHub-Delivery" not in sign("github", SECRET, BODY)


# ReplayGuard ---------------------------------------------------------------------------------

def test_replay_guard_remembers_until_expiry() -> None:
    guard = ReplayGuard()
    assert guard.claim("a", expires=10.0, now=0.0)
    assert not guard.claim("a", expires=20.0, now=9.9)
    assert guard.claim("a", expires=30.0, now=10.0)
    assert len(guard) == 1


def test_replay_guard_is_bounded_and_evicts_the_nearest_expiry() -> None:
    guard = ReplayGuard(max_entries=3)
    for key, expires in [("a", 50.0), ("b", 10.0), ("c", 30.0)]:
        assert guard.claim(key, expires, now=0.0)
    assert guard.claim("d", 40.0, now=0.0)
    assert len(guard) == 3
    assert guard.claim("b", 60.0, now=0.0)
    assert not guard.claim("a", 60.0, now=0.0)


def test_replay_guard_release_and_heap_compaction() -> None:
    guard = ReplayGuard(max_entries=2)
    for _ in range(10):
        assert guard.claim("k", 100.0, now=0.0)
        guard.release("k")
    assert len(guard) == 0
    assert guard.claim("k", 100.0, now=0.0)
    assert not guard.claim("k", 100.0, now=1.0)


def test_replay_guard_rejects_a_zero_bound() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        ReplayGuard(max_entries=0)
