import pytest

from laf_core import signing

PATH = "/api/webhooks/tasks"


def test_signed_headers_verify():
    body = b'{"a":1}'
    headers = signing.sign_headers("s3cret", "POST", PATH, body, now=1000)
    given = signing.verify("s3cret", headers, "POST", PATH, body, now=1001)
    assert given == headers[signing.SIGNATURE_HEADER]


@pytest.mark.parametrize(
    ("secret", "method", "path", "body", "now", "expected"),
    [
        ("other", "POST", PATH, b'{"a":1}', 1000, "does not match"),
        ("s3cret", "POST", PATH, b'{"a":2}', 1000, "does not match"),
        ("s3cret", "PUT", PATH, b'{"a":1}', 1000, "does not match"),
        ("s3cret", "POST", "/api/webhooks/runners", b'{"a":1}', 1000, "does not match"),
        ("s3cret", "POST", PATH, b'{"a":1}', 1000 + 301, "replay window"),
        ("s3cret", "POST", PATH, b'{"a":1}', 1000 - 301, "replay window"),
    ],
)
def test_tampering_wrong_secret_other_endpoint_and_old_or_future_times_are_refused(
    secret, method, path, body, now, expected
):
    headers = signing.sign_headers("s3cret", "POST", PATH, b'{"a":1}', now=1000)
    with pytest.raises(signing.SignatureError, match=expected):
        signing.verify(secret, headers, method, path, body, now=now)


@pytest.mark.parametrize(
    "timestamp", ["yesterday", " 1000", "+1000", "1_000", "1000 ", "\u0661\u0660\u0660\u0660"]
)
def test_a_timestamp_is_digits_only(timestamp):
    headers = signing.sign_headers("s3cret", "POST", PATH, b"", now=1000)
    headers[signing.TIMESTAMP_HEADER] = timestamp
    with pytest.raises(signing.SignatureError, match="digits only"):
        signing.verify("s3cret", headers, "POST", PATH, b"", now=1000)


def test_missing_headers_are_refused():
    with pytest.raises(signing.SignatureError, match="missing"):
        signing.verify("s", {}, "POST", PATH, b"")


def test_the_replay_cache_refuses_a_signature_seen_within_the_window():
    cache = signing.ReplayCache(window_s=300)
    assert cache.first_use("sha256=aa", now=0)
    assert not cache.first_use("sha256=aa", now=10)
    assert cache.first_use("sha256=bb", now=10)
    assert cache.first_use("sha256=aa", now=601)  # forgotten once it cannot verify any more


def test_the_replay_cache_is_bounded():
    cache = signing.ReplayCache(window_s=300, max_entries=3)
    for n in range(10):
        assert cache.first_use(f"sha256={n}", now=n)
    assert len(cache._seen) <= 3
