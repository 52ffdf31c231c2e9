"""Write keys (hashed, several per source) and per-key rate limits."""

from __future__ import annotations

import base64

import pytest

from touchline.ingest.auth import WriteKeys, basic_user
from touchline.ingest.ratelimit import RateLimiter
from touchline.ingest.settings import IngestSettings, refuse_dev_write_keys


def test_each_source_may_hold_several_keys_for_rotation() -> None:
    keys = WriteKeys.parse("product:old, product:new ,backfill:b")
    assert (keys.source_of("old"), keys.source_of("new"), keys.source_of("b")) == ("product", "product", "backfill")
    assert keys.source_of("nope") is None and keys.source_of(None) is None


def test_only_hashes_of_the_keys_are_kept() -> None:
    keys = WriteKeys.parse("product:s3cret-key")
    assert b"s3cret-key" not in b"".join(keys.by_hash) and "s3cret" not in repr(keys)


def test_a_malformed_entry_is_refused_without_echoing_the_secret() -> None:
    with pytest.raises(ValueError, match="entry 2") as caught:
        WriteKeys.parse("product:k,justasecret")
    assert "justasecret" not in str(caught.value)


def test_the_basic_user_name_is_the_write_key() -> None:
    header = "Basic " + base64.b64encode(b"key-1:").decode()
    assert basic_user(header) == "key-1"
    assert basic_user("Bearer x") is None and basic_user("Basic !!!") is None


def test_the_dev_write_key_is_refused_in_prod_but_accepted_in_dev() -> None:
    refuse_dev_write_keys(IngestSettings(), env="dev")
    with pytest.raises(ValueError, match="dev write key"):
        refuse_dev_write_keys(IngestSettings(), env="prod")


def test_a_source_over_its_rate_is_told_when_to_retry() -> None:
    limiter = RateLimiter(rate=100, burst=200)
    assert limiter.check("product", 200, now=0.0) == 0
    assert limiter.check("product", 100, now=0.5) == 1  # 50 tokens back, 50 more in 0.5 s
    assert limiter.check("product", 100, now=1.0) == 0
    assert limiter.check("backfill", 200, now=1.0) == 0  # sources do not share a bucket


def test_a_request_larger_than_the_burst_passes_when_the_bucket_is_full() -> None:
    limiter = RateLimiter(rate=10, burst=20)
    assert limiter.check("product", 50, now=0.0) == 0
    assert limiter.check("product", 1, now=0.0) > 0
