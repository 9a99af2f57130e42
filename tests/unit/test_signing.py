import pytest

from laf_core import signing


def test_signed_headers_verify():
    body = b'{"a":1}'
    headers = signing.sign_headers("s3cret", body, now=1000)
    signing.verify(
        "s3cret",
        headers[signing.TIMESTAMP_HEADER],
        headers[signing.SIGNATURE_HEADER],
        body,
        now=1001,
    )


@pytest.mark.parametrize(
    ("secret", "body", "now", "expected"),
    [
        ("other", b'{"a":1}', 1000, "does not match"),
        ("s3cret", b'{"a":2}', 1000, "does not match"),
        ("s3cret", b'{"a":1}', 1000 + 301, "replay window"),
        ("s3cret", b'{"a":1}', 1000 - 301, "replay window"),
    ],
)
def test_tampering_wrong_secret_and_replays_are_refused(secret, body, now, expected):
    headers = signing.sign_headers("s3cret", b'{"a":1}', now=1000)
    with pytest.raises(signing.SignatureError, match=expected):
        signing.verify(
            secret,
            headers[signing.TIMESTAMP_HEADER],
            headers[signing.SIGNATURE_HEADER],
            body,
            now=now,
        )


def test_missing_headers_are_refused():
    with pytest.raises(signing.SignatureError, match="missing"):
        signing.verify("s", None, None, b"")
    with pytest.raises(signing.SignatureError, match="Unix seconds"):
        signing.verify("s", "yesterday", "sha256=00", b"")
