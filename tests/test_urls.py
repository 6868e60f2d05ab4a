"""SecretURL, redaction and the logging filter."""

from __future__ import annotations

import logging
import pickle

import pytest

from ometiff_helpers.urls import (
    SECRET_PARAMS,
    SecretFilter,
    SecretURL,
    install_secret_filter,
    is_secret_key,
    redact_text,
    redact_url,
)


@pytest.mark.parametrize(
    "key",
    [
        "token",
        "TOKEN",
        "access_token",
        "auth",
        "sig",
        "signature",
        "X-Amz-Signature",
        "X-Amz-Security-Token",
        "X-Amz-Credential",
        "X-Goog-Signature",
        "X-Goog-Credential",
        "key",
        "apikey",
        "api_key",
        "password",
        "jwt",
        "Policy",
        "Key-Pair-Id",
        "id_token",
        "refreshToken",
    ],
)
def test_secret_keys_are_redacted_keeping_the_key(key):
    url = f"https://h.example/a.tif?{key}=s3cr3tValue&z=1"
    assert is_secret_key(key)
    assert redact_url(url) == f"https://h.example/a.tif?{key}=***&z=1"


def test_plain_keys_are_kept():
    for key in ("z", "series", "se", "X-Amz-Expires", "X-Amz-Date", "format"):
        assert not is_secret_key(key)
    assert "sig" in SECRET_PARAMS and all(k == k.lower() for k in SECRET_PARAMS)


def test_azure_sas_signature_is_redacted():
    url = "https://acct.blob.core.windows.net/c/f.tif?sv=2022-11-02&se=2030-01-01&sp=r&sig=AbC%2Bd%3D"
    assert redact_url(url).endswith("sv=2022-11-02&se=2030-01-01&sp=r&sig=***")


def test_userinfo_password_is_redacted():
    url = SecretURL("https://alice:hunter2hunter2@h.example/f.tif")
    assert str(url) == "https://alice:***@h.example/f.tif"
    assert "hunter2hunter2" not in redact_text("failed: hunter2hunter2")


def test_reveal_is_byte_for_byte_and_str_repr_are_redacted():
    raw = "https://h.example/d%20ir/f.tif?a=%7E%41&X-Amz-Signature=ab%2Bcd&flag&e=#frag"
    url = SecretURL(raw)
    assert url.reveal() == raw
    assert (
        str(url) == url.redacted == "https://h.example/d%20ir/f.tif?a=%7E%41&X-Amz-Signature=***&flag&e=#frag"
    )
    assert repr(url) == f"SecretURL({url.redacted!r})"
    assert "ab%2Bcd" not in url._repr_html_() and "ab%2Bcd" not in f"{url}"


def test_separate_token_is_appended_encoded():
    assert SecretURL("https://h/f.tif", token="t0k en").reveal() == "https://h/f.tif?token=t0k%20en"
    assert SecretURL("https://h/f.tif?a=1", token="tok1").reveal() == "https://h/f.tif?a=1&token=tok1"
    assert SecretURL("https://h/f.tif?a=1", token="tok1").redacted == "https://h/f.tif?a=1&token=***"
    assert SecretURL(SecretURL("https://h/f.tif"), token="tok2").reveal() == "https://h/f.tif?token=tok2"


def test_redact_text_removes_every_secret_ever_seen_in_any_form():
    SecretURL("https://h/f.tif?token=Zq%2B9%2Fx%3DSeen")  # registers the value
    decoded = "Zq+9/x=Seen"
    text = (
        f"error: {decoded} | Zq%2B9%2Fx%3DSeen | Zq%252B9%252Fx%253DSeen | GET /f.tif?token=Zq%2B9%2Fx%3DSeen"
    )
    cleaned = redact_text(text)
    assert "Seen" not in cleaned.replace("***", "")
    # and secret-looking parameters of URLs never seen before
    assert redact_text("see https://x/y?sig=neverseen&a=b") == "see https://x/y?sig=***&a=b"


def test_short_values_are_hidden_in_urls_but_text_is_not_mangled():
    url = SecretURL("https://h/f.tif?sig=ab")
    assert url.redacted == "https://h/f.tif?sig=***"
    assert redact_text("a table about cabs") == "a table about cabs"


def test_path_name_and_sibling_keep_the_query():
    url = SecretURL("https://h/a/b/image%201.ome.tif?token=sib1ingSecret")
    assert url.path_name == "image 1.ome.tif"
    sibling = url.with_path_name("offsets.json")
    assert sibling.reveal() == "https://h/a/b/offsets.json?token=sib1ingSecret"
    assert sibling.redacted == "https://h/a/b/offsets.json?token=***"
    assert url.is_http and url.host == "h" and url.origin == ("https", "h", 443)
    assert not SecretURL("s3://bucket/key").is_http


def test_secret_url_cannot_be_pickled_and_compares_by_value():
    a, b = SecretURL("https://h/f?token=picklesecret"), SecretURL("https://h/f?token=picklesecret")
    assert a == b and hash(a) == hash(b) and a != SecretURL("https://h/f?token=other1")
    with pytest.raises(TypeError):
        pickle.dumps(a)


def test_secret_filter_rewrites_messages_args_and_tracebacks(caplog):
    secret = SecretURL("https://h/f.tif?token=f1lterSecret")
    logger = logging.getLogger("test_urls.filtered")
    logger.addFilter(SecretFilter())
    caplog.set_level(logging.DEBUG, logger="test_urls.filtered")
    logger.debug("GET %s", secret.reveal())
    try:
        raise ValueError(f"boom {secret.reveal()}")
    except ValueError:
        logger.exception("failed")
    assert "f1lterSecret" not in caplog.text
    assert "token=***" in caplog.text and "ValueError" in caplog.text


def test_install_secret_filter_covers_existing_children(caplog):
    child = logging.getLogger("test_urls.parent.child")
    install_secret_filter("test_urls.parent")
    caplog.set_level(logging.DEBUG)
    SecretURL("https://h/f?token=ch1ldSecret")
    child.debug("url https://h/f?token=ch1ldSecret")
    assert "ch1ldSecret" not in caplog.text
    assert install_secret_filter("test_urls.parent") in child.filters  # idempotent
    assert child.filters.count(install_secret_filter("test_urls.parent")) == 1
