"""Shared fixtures: the repository root and the bundled policy."""

from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def repository() -> Path:
    return REPOSITORY


@pytest.fixture(scope="session")
def rtc_sdk():
    import entitle

    return entitle.Engine.from_path(REPOSITORY / "policies" / "rtc-sdk.policy")
