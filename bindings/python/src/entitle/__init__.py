"""entitle: plans, feature flags and quotas, checked and answered in-process.

A native extension (PyO3) over entitle's Rust engine, so Python gets the same answers from
the same compiled tables as Rust and C::

    import entitle

    engine = entitle.Engine.from_path("policies/rtc-sdk.policy")
    request = engine.request("pro", key="app-42", now=1_795_255_200)
    engine.is_allowed(request, "hd_video")                      # True
    engine.check_limit(request, "api_calls_per_day", used=990_000, requested=20_000)

Names may be given as strings, or resolved once to ids (`engine.feature("hd_video")`) for hot
loops. Per-customer `Overrides` (JSON Lines records checked against the engine) are given to
`engine.request(..., overrides=...)` and apply last, after tier, seats and add-ons. An
`Engine`, a `Request` and an `Overrides` set are immutable, so threads may share them; a request is
answered only by the engine that made it.
"""

from __future__ import annotations

from ._entitle import Engine, FeatureList, Overrides, Request, version
from ._types import (
    UNLIMITED,
    Amount,
    Decision,
    Diagnostic,
    Draw,
    Entitlements,
    EntitleError,
    Held,
    LimitBatch,
    OverrideRecord,
    PolicyError,
    QueryError,
    Quota,
    Reason,
    Setting,
    SettingKind,
    Status,
    Window,
)

__all__ = [
    "UNLIMITED",
    "Amount",
    "Decision",
    "Diagnostic",
    "Draw",
    "Engine",
    "Entitlements",
    "EntitleError",
    "FeatureList",
    "Held",
    "LimitBatch",
    "OverrideRecord",
    "Overrides",
    "PolicyError",
    "QueryError",
    "Quota",
    "Reason",
    "Request",
    "Setting",
    "SettingKind",
    "Status",
    "Window",
    "version",
]
