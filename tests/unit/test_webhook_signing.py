"""Standard Webhooks signatures: the specification's published test vector, and what a receiver
must refuse (a bad signature, a stale or future timestamp, missing headers)."""

import base64

import pytest

from image_pipeline.notify.signing import (
    TOLERANCE_SECONDS,
    InvalidSecret,
    VerificationFailed,
    WebhookSecret,
    check_id,
    signature,
    signed_headers,
    verify,
)

# The test vector of the specification's reference libraries (standard-webhooks/standard-webhooks,
# libraries/*: "sign function" tests), the same in every language.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

SECRET = WebhookSecret.parse(SPEC_SECRET)
NOW = SPEC_TIMESTAMP


def _headers(**overrides: str) -> dict[str, str]:
    return {**signed_headers([SECRET], SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY), **overrides}


# ---------------------------------------------------------------- signing
def test_the_signature_is_the_specifications_test_vector() -> None:
    assert signature(SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE


def test_the_headers_carry_the_id_the_timestamp_and_one_signature_per_secret() -> None:
    # Given the current secret and, during a rotation, the previous one
    previous = WebhookSecret(b"p" * 32)
    # When a webhook is signed with both
    headers = signed_headers([SECRET, previous], SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)
    # Then the headers are the specification's three, the signatures space separated, current first
    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert headers["webhook-id"] == SPEC_ID
    assert headers["webhook-timestamp"] == str(SPEC_TIMESTAMP)
    current, old = headers["webhook-signature"].split(" ")
    assert current == SPEC_SIGNATURE
    assert old == signature(previous, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)
    # and a receiver that knows either secret accepts it
    assert verify([previous], headers, SPEC_BODY, now=NOW) == SPEC_ID


def test_a_secret_is_read_with_or_without_its_prefix_and_shown_with_it() -> None:
    bare = SPEC_SECRET.removeprefix("whsec_")
    assert WebhookSecret.parse(bare) == SECRET
    assert WebhookSecret.parse(bare.rstrip("=")) == SECRET  # padding is optional
    assert SECRET.serialized() == SPEC_SECRET
    assert "MfKQ" not in repr(SECRET)  # never in a log line


@pytest.mark.parametrize(("size", "valid"), [(23, False), (24, True), (25, True), (63, True), (64, True), (65, False)])
def test_a_secret_has_24_to_64_bytes(size: int, valid: bool) -> None:
    encoded = "whsec_" + base64.b64encode(bytes(range(size))).decode()
    if valid:
        assert len(WebhookSecret.parse(encoded).key) == size
    else:
        with pytest.raises(InvalidSecret, match="24-64 bytes"):
            WebhookSecret.parse(encoded)


@pytest.mark.parametrize("text", ["whsec_not base64!", "whsec_@@@@", "whsec_"])
def test_a_secret_that_is_not_base64_is_refused(text: str) -> None:
    with pytest.raises(InvalidSecret):
        WebhookSecret.parse(text)


def test_nothing_is_signed_without_a_secret() -> None:
    with pytest.raises(InvalidSecret, match="no signing secret"):
        signed_headers([], SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)


@pytest.mark.parametrize("bad", ["", "msg.1", "msg 1", "msg\n1", "x" * 401])
def test_an_id_that_could_forge_the_signed_content_is_refused(bad: str) -> None:
    # "{id}.{timestamp}.{body}": an id holding "." could shift the boundaries
    with pytest.raises(ValueError, match="webhook id"):
        check_id(bad)


# ---------------------------------------------------------------- verifying
def test_a_receiver_accepts_the_vector_and_learns_the_id_to_deduplicate_on() -> None:
    headers = {"webhook-id": SPEC_ID, "webhook-timestamp": str(SPEC_TIMESTAMP), "webhook-signature": SPEC_SIGNATURE}
    assert verify([SECRET], headers, SPEC_BODY, now=NOW) == SPEC_ID


def test_header_names_are_case_insensitive() -> None:
    headers = {name.title(): value for name, value in _headers().items()}
    assert verify([SECRET], headers, SPEC_BODY, now=NOW) == SPEC_ID


@pytest.mark.parametrize(
    "forged",
    [
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=",  # one character off (the libraries' own test)
        "v1,",
        "v1,not-base64!",
        "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",  # the right bytes under another version
        "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    ],
)
def test_a_bad_signature_is_rejected(forged: str) -> None:
    with pytest.raises(VerificationFailed, match="no signature matches"):
        verify([SECRET], _headers(**{"webhook-signature": forged}), SPEC_BODY, now=NOW)


def test_a_changed_body_id_or_timestamp_breaks_the_signature() -> None:
    with pytest.raises(VerificationFailed):
        verify([SECRET], _headers(), SPEC_BODY.replace(b"2432", b"2433"), now=NOW)
    with pytest.raises(VerificationFailed):
        verify([SECRET], _headers(**{"webhook-id": "msg_other"}), SPEC_BODY, now=NOW)
    with pytest.raises(VerificationFailed):
        verify([SECRET], _headers(**{"webhook-timestamp": str(SPEC_TIMESTAMP + 1)}), SPEC_BODY, now=NOW)


def test_another_secret_does_not_verify() -> None:
    with pytest.raises(VerificationFailed):
        verify([WebhookSecret(b"o" * 24)], _headers(), SPEC_BODY, now=NOW)


def test_one_matching_signature_among_several_is_enough() -> None:
    # the libraries' multi-signature case: other versions and wrong ones are skipped
    several = " ".join(
        [
            "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
            "v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
            SPEC_SIGNATURE,
            "v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg==",
        ]
    )
    assert verify([SECRET], _headers(**{"webhook-signature": several}), SPEC_BODY, now=NOW) == SPEC_ID


@pytest.mark.parametrize(
    ("received_at", "fresh"),
    [
        (SPEC_TIMESTAMP + TOLERANCE_SECONDS - 1, True),
        (SPEC_TIMESTAMP + TOLERANCE_SECONDS, True),  # at the tolerance: still accepted
        (SPEC_TIMESTAMP + TOLERANCE_SECONDS + 1, False),  # one second stale: a replay
        (SPEC_TIMESTAMP - TOLERANCE_SECONDS + 1, True),
        (SPEC_TIMESTAMP - TOLERANCE_SECONDS, True),
        (SPEC_TIMESTAMP - TOLERANCE_SECONDS - 1, False),  # sent from the future
    ],
)
def test_the_timestamp_must_be_within_the_tolerance_either_way(received_at: int, fresh: bool) -> None:
    if fresh:
        assert verify([SECRET], _headers(), SPEC_BODY, now=received_at) == SPEC_ID
    else:
        with pytest.raises(VerificationFailed, match="300 s"):
            verify([SECRET], _headers(), SPEC_BODY, now=received_at)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_missing_header_is_rejected(missing: str) -> None:
    headers = _headers()
    del headers[missing]
    with pytest.raises(VerificationFailed, match="needs the"):
        verify([SECRET], headers, SPEC_BODY, now=NOW)


@pytest.mark.parametrize(
    "timestamp",
    ["hello", "1614265330.5", "-1614265330", "\uff11\uff16\uff11\uff14\uff12\uff16\uff15\uff13\uff13\uff10"],
)
def test_a_timestamp_that_is_not_whole_seconds_is_rejected(timestamp: str) -> None:
    with pytest.raises(VerificationFailed, match="whole seconds"):
        verify([SECRET], _headers(**{"webhook-timestamp": timestamp}), SPEC_BODY, now=NOW)
