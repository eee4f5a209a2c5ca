"""Compiled bundles load through the C ABI and answer as the policy does."""

import hashlib
import os
from pathlib import Path

import pytest

import entitle

NOW = 1795255200


@pytest.fixture(scope="module")
def bundle_path() -> Path:
    path = os.environ.get("ENTITLE_TEST_BUNDLE")
    if not path:
        pytest.skip("ENTITLE_TEST_BUNDLE is set by `cargo test` (ffi/tests/python.rs)")
    return Path(path)


def test_a_bundle_answers_as_its_policy(bundle_path, rtc_sdk, repository):
    loaded = entitle.Engine.from_bundle(bundle_path.read_bytes())
    from_file = entitle.Engine.from_path(bundle_path)
    for engine in (loaded, from_file):
        for tier in ("free", "pro"):
            request = engine.request(tier, key="app-42", now=NOW)
            expected = rtc_sdk.request(tier, key="app-42", now=NOW)
            assert engine.is_allowed(request, "hd_video") == rtc_sdk.is_allowed(expected, "hd_video")
    source = (repository / "policies" / "rtc-sdk.policy").read_bytes()
    assert loaded.policy_hash == hashlib.sha256(source).hexdigest() == rtc_sdk.policy_hash


@pytest.mark.parametrize("damage", ["flip", "truncate", "foreign"])
def test_a_damaged_bundle_is_a_bundle_error(bundle_path, damage):
    data = bytearray(bundle_path.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 1
    elif damage == "truncate":
        data = data[: len(data) // 3]
    else:
        data = bytearray(b"policy \"p\"\n")
    with pytest.raises(entitle.EntitleError) as raised:
        entitle.Engine.from_bundle(bytes(data))
    assert raised.value.status == "bundle_error"
    assert "bundle" in str(raised.value)
