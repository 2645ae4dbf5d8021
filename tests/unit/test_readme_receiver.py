"""The README's webhook receiver is the one a customer copies: it must accept exactly what the
stack signs (the specification's vector included) and reject what it must (a bad signature, a
stale or future timestamp, a missing header)."""

import time
from types import SimpleNamespace
from typing import Any

import pytest

from image_pipeline.notify.signing import WebhookSecret, signed_headers
from tests.readme import readme_receiver

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
BODY = b'{"imageId":"0123456789abcdef0123456789abcdef","status":"COMPLETE","outputs":{}}'


@pytest.fixture
def receiver() -> SimpleNamespace:
    return readme_receiver(SECRET)


def _signed(body: bytes = BODY, at: int | None = None, *secrets: str) -> dict[str, str]:
    keys = [WebhookSecret.parse(s) for s in (secrets or (SECRET,))]
    return signed_headers(keys, "status:0123@0001", at if at is not None else int(time.time()), body)


def test_the_readme_receiver_accepts_what_the_stack_signs(receiver: SimpleNamespace) -> None:
    assert receiver.verify(_signed(), BODY)["status"] == "COMPLETE"


def test_the_readme_receiver_accepts_the_specifications_test_vector(
    receiver: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(time, "time", lambda: 1614265330.0)
    headers = {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }
    assert receiver.verify(headers, b'{"test": 2432232314}') == {"test": 2432232314}


def test_the_readme_receiver_accepts_either_signature_during_a_rotation(receiver: SimpleNamespace) -> None:
    new = "whsec_" + "bmV3" * 8  # 24 bytes
    assert receiver.verify(_signed(BODY, None, new, SECRET), BODY)["imageId"]


@pytest.mark.parametrize(
    "tamper",
    [
        lambda h, b: (h, b.replace(b"COMPLETE", b"REJECTED")),
        lambda h, b: ({**h, "webhook-id": "another"}, b),
        lambda h, b: ({**h, "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}, b),
        lambda h, b: ({**h, "webhook-signature": h["webhook-signature"].replace("v1,", "v2,")}, b),
        lambda h, b: ({k: v for k, v in h.items() if k != "webhook-signature"}, b),
        lambda h, b: ({k: v for k, v in h.items() if k != "webhook-id"}, b),
    ],
    ids=["body", "id", "signature", "version", "no signature", "no id"],
)
def test_the_readme_receiver_rejects_a_bad_signature(receiver: SimpleNamespace, tamper: Any) -> None:
    headers, body = tamper(_signed(), BODY)
    with pytest.raises(ValueError):  # noqa: PT011 - the receiver's one refusal
        receiver.verify(headers, body)


@pytest.mark.parametrize(("age", "fresh"), [(299, True), (300, True), (301, False), (-300, True), (-301, False)])
def test_the_readme_receiver_refuses_a_stale_or_future_timestamp(
    receiver: SimpleNamespace, monkeypatch: pytest.MonkeyPatch, age: int, fresh: bool
) -> None:
    now = 1_800_000_000
    monkeypatch.setattr(time, "time", lambda: float(now))
    headers = _signed(BODY, now - age)
    if fresh:
        assert receiver.verify(headers, BODY)["status"] == "COMPLETE"
    else:
        with pytest.raises(ValueError, match="fresh"):
            receiver.verify(headers, BODY)
