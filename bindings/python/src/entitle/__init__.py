"""entitle: plans, feature flags and quotas, checked and answered in-process.

A thin, typed layer over entitle's C ABI (`include/entitle.h`), so Python gets the same
answers from the same compiled tables as Rust and C::

    import entitle

    engine = entitle.Engine.from_path("policies/rtc-sdk.policy")
    request = engine.request("pro", key="app-42", now=1_795_255_200)
    engine.is_allowed(request, "hd_video")                      # True
    engine.check_limit(request, "api_calls_per_day", used=990_000, requested=20_000)

Names may be given as strings, or resolved once to ids (`engine.feature("hd_video")`) for hot
loops. An `Engine` and a `Request` are immutable, so threads may share them.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Optional, Sequence, Union

from ._native import DEFINES, ffi, lib

__all__ = [
    "UNLIMITED",
    "Decision",
    "Diagnostic",
    "Engine",
    "EntitleError",
    "PolicyError",
    "Quota",
    "Request",
    "Window",
    "version",
]

#: The value of an amount with no bound, as in the JSON answers of `entitle eval`.
UNLIMITED: Literal["unlimited"] = "unlimited"

Amount = Union[int, Literal["unlimited"]]
Instant = Union[int, datetime, None]

_STATUS = {
    lib.ENTITLE_STATUS_OK: "ok",
    lib.ENTITLE_STATUS_NULL_ARGUMENT: "null_argument",
    lib.ENTITLE_STATUS_INVALID_UTF8: "invalid_utf8",
    lib.ENTITLE_STATUS_INVALID_ARGUMENT: "invalid_argument",
    lib.ENTITLE_STATUS_POLICY_ERROR: "policy_error",
    lib.ENTITLE_STATUS_IO_ERROR: "io_error",
    lib.ENTITLE_STATUS_UNKNOWN_NAME: "unknown_name",
    lib.ENTITLE_STATUS_UNKNOWN_ID: "unknown_id",
    lib.ENTITLE_STATUS_BUFFER_TOO_SMALL: "buffer_too_small",
    lib.ENTITLE_STATUS_PANIC: "panic",
    lib.ENTITLE_STATUS_INPUT_LIMIT: "input_limit",
    lib.ENTITLE_STATUS_BUNDLE_ERROR: "bundle_error",
}

# Statuses that come with an answer (a deny whose reason says what was unknown or too many).
_ANSWERED = {
    lib.ENTITLE_STATUS_OK,
    lib.ENTITLE_STATUS_UNKNOWN_NAME,
    lib.ENTITLE_STATUS_UNKNOWN_ID,
    lib.ENTITLE_STATUS_INPUT_LIMIT,
}

# The stable names, read once from the library so that they cannot drift from Rust's.
_REASONS = []
while True:
    _name = lib.entitle_reason_name(len(_REASONS))
    if _name == ffi.NULL:
        break
    _REASONS.append(ffi.string(_name).decode())
_LIMIT_STATUSES = [ffi.string(lib.entitle_limit_status_name(i)).decode() for i in range(4)]


def version() -> str:
    """The version of the loaded library, such as ``"0.1.0"``."""
    return ffi.string(lib.entitle_version()).decode()


if lib.entitle_abi_version() != int(DEFINES["ENTITLE_ABI_VERSION"]):
    raise ImportError(
        f"entitle: the library implements ABI {lib.entitle_abi_version()}, "
        f"the header declares {DEFINES['ENTITLE_ABI_VERSION']}"
    )


class EntitleError(Exception):
    """A call into the library failed; `status` is the C status name, such as ``"io_error"``."""

    def __init__(self, message: str, status: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Diagnostic:
    """One finding about a policy, with its stable code and location."""

    code: str
    severity: str
    message: str
    file: str
    line: int
    column: int
    end_line: int
    end_column: int
    help: Optional[str] = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.severity}[{self.code}]: {self.message}"


class PolicyError(EntitleError):
    """A policy does not check. `diagnostics` lists every problem; the message names the
    first error's ``file:line:column``."""

    def __init__(self, message: str, diagnostics: list[Diagnostic]) -> None:
        super().__init__(message, "policy_error")
        self.diagnostics = diagnostics


@dataclass(frozen=True)
class Decision:
    """The answer to "may this subject use this feature?"."""

    allowed: bool
    reason: str


@dataclass(frozen=True)
class Window:
    """A counter's current window, ``[start, end)`` in Unix seconds."""

    start: int
    end: int


@dataclass(frozen=True)
class Quota:
    """The answer to "how much of this limit is left, and may this request proceed?"."""

    allowed: bool
    reason: str
    status: str
    limit: Amount
    soft_cap: Optional[Amount]
    remaining: Amount
    window: Optional[Window]


def _bytes(text: str) -> bytes:
    return text.encode("utf-8")


def _raise_for(status: int, what: str) -> None:
    if status not in _ANSWERED:
        raise EntitleError(f"entitle: {what} failed: {_STATUS.get(status, status)}", _STATUS.get(status, str(status)))


def _load_error(error: Any) -> EntitleError:
    """The Python exception for a load error handle (which it frees)."""
    try:
        status = lib.entitle_error_status(error)
        message = ffi.string(lib.entitle_error_message(error)).decode()
        if status == lib.ENTITLE_STATUS_POLICY_ERROR:
            found = lib.entitle_error_diagnostics_json(error)
            items = json.loads(ffi.string(found).decode()) if found != ffi.NULL else []
            diagnostics = [
                Diagnostic(
                    code=d["code"],
                    severity=d["severity"],
                    message=d["message"],
                    file=d["file"],
                    line=d["line"],
                    column=d["column"],
                    end_line=d["end_line"],
                    end_column=d["end_column"],
                    help=d.get("help"),
                )
                for d in items
            ]
            return PolicyError(message, diagnostics)
        return EntitleError(message, _STATUS.get(status, str(status)))
    finally:
        lib.entitle_error_free(error)


def _seconds(now: Instant) -> int:
    if now is None:
        return int(time.time())
    if isinstance(now, datetime):
        if now.tzinfo is None:
            raise ValueError("entitle: `now` must be an aware datetime (with a time zone) or Unix seconds")
        return int(now.timestamp() // 1)
    return int(now)


class Request:
    """Who is asking and when. Made by `Engine.request`; immutable, so threads may share it.

    It serves by-name and by-id questions alike: the C request holds the tier once, as this
    engine's id when the engine has the tier (else as the name, which every question answers as
    an unknown tier), and the add-ons both as names and as ids.
    """

    __slots__ = ("_handle", "tier", "key", "addons", "billing_anchor", "now")

    def __init__(
        self, engine: "Engine", tier: Union[str, int], key: str, addons: Sequence[Union[str, int]], billing_anchor: int, now: int
    ) -> None:
        handle = ffi.new("entitle_request **")
        _raise_for(lib.entitle_request_new(handle), "entitle_request_new")
        self._handle = ffi.gc(handle[0], lib.entitle_request_free)
        if not 1 <= billing_anchor <= 31:
            raise ValueError(f"entitle: billing_anchor is {billing_anchor}, not a day from 1 to 31")
        self.tier = tier
        self.key = key
        self.addons = tuple(addons)
        self.billing_anchor = billing_anchor
        self.now = now
        h = self._handle
        tier_id = tier if isinstance(tier, int) else engine._id("tier", tier)
        if tier_id is not None:
            _raise_for(lib.entitle_request_set_tier(h, tier_id), "set_tier")
        else:
            name = _bytes(str(tier))
            _raise_for(lib.entitle_request_set_tier_name(h, name, len(name)), "set_tier_name")
        encoded_key = _bytes(key)
        _raise_for(lib.entitle_request_set_key(h, encoded_key, len(encoded_key)), "set_key")
        _raise_for(lib.entitle_request_set_billing_anchor(h, billing_anchor), "set_billing_anchor")
        _raise_for(lib.entitle_request_set_now(h, now), "set_now")
        for addon in self.addons:
            addon_name = addon if isinstance(addon, str) else engine._name_of("addon", addon)
            addon_id = addon if isinstance(addon, int) else engine._id("addon", addon)
            encoded = _bytes(addon_name or "")
            _raise_for(lib.entitle_request_add_addon_name(h, encoded, len(encoded)), "add_addon_name")
            _raise_for(lib.entitle_request_add_addon(h, 0xFFFFFFFF if addon_id is None else addon_id), "add_addon")

    def __repr__(self) -> str:
        return (
            f"Request(tier={self.tier!r}, key={self.key!r}, addons={self.addons!r}, "
            f"billing_anchor={self.billing_anchor}, now={self.now})"
        )


class _Buffers(threading.local):
    """Answer buffers for the C calls, one set per thread: allocating them per call cost about
    as much as the call itself. Each answer is copied out before the next call on the thread."""

    def __init__(self) -> None:
        self.allowed = ffi.new("bool *")
        self.decision = ffi.new("entitle_decision *")
        self.quota = ffi.new("entitle_quota *")
        self.setting = ffi.new("entitle_setting *")


_buffers = _Buffers()


def _amount(amount: Any) -> Amount:
    return UNLIMITED if amount.unlimited else int(amount.value)


class Engine:
    """A compiled policy. Load with `from_path` or `from_source`; query from any thread."""

    __slots__ = ("_handle", "_ids", "_names", "_out")

    def __init__(self, handle: Any) -> None:
        self._handle = ffi.gc(handle, lib.entitle_engine_free)
        self._ids: dict[tuple[str, str], Optional[int]] = {}
        self._names: dict[tuple[str, int], Optional[str]] = {}

    @classmethod
    def from_source(cls, text: str, name: str = "<string>") -> "Engine":
        """Parses, checks and compiles policy text; raises `PolicyError` with every diagnostic."""
        engine = ffi.new("entitle_engine **")
        error = ffi.new("entitle_error **")
        encoded_name, encoded_text = _bytes(name), _bytes(text)
        status = lib.entitle_engine_from_source(
            encoded_name, len(encoded_name), encoded_text, len(encoded_text), engine, error
        )
        if status != lib.ENTITLE_STATUS_OK:
            raise _load_error(error[0])
        return cls(engine[0])

    @classmethod
    def from_path(cls, path: Union[str, "os.PathLike[str]"]) -> "Engine":
        """Reads, checks and compiles a policy file; raises `PolicyError` or `EntitleError`."""
        engine = ffi.new("entitle_engine **")
        error = ffi.new("entitle_error **")
        encoded = _bytes(os.fspath(path))
        status = lib.entitle_engine_from_path(encoded, len(encoded), engine, error)
        if status != lib.ENTITLE_STATUS_OK:
            raise _load_error(error[0])
        return cls(engine[0])

    @classmethod
    def from_bundle(cls, data: bytes) -> "Engine":
        """Loads a compiled bundle (`entitle build`) without parsing; raises `EntitleError`
        with status `bundle_error` for a corrupt, truncated or newer-format bundle.
        `from_path` takes bundle files too."""
        engine = ffi.new("entitle_engine **")
        error = ffi.new("entitle_error **")
        data = bytes(data)
        status = lib.entitle_engine_from_bundle(data, len(data), engine, error)
        if status != lib.ENTITLE_STATUS_OK:
            raise _load_error(error[0])
        return cls(engine[0])

    @property
    def policy_hash(self) -> str:
        """The SHA-256 of the policy's source, as 64 hex digits: the policy every answer
        comes from, for audit logs."""
        out = ffi.new("uint8_t[32]")
        _raise_for(lib.entitle_engine_policy_hash(self._handle, out), "policy_hash")
        return bytes(ffi.buffer(out, 32)).hex()

    # Names and ids.

    _LOOKUPS = {
        "tier": lib.entitle_engine_tier,
        "feature": lib.entitle_engine_feature,
        "limit": lib.entitle_engine_limit,
        "addon": lib.entitle_engine_addon,
        "setting": lib.entitle_engine_setting,
    }

    def _id(self, kind: str, name: str) -> Optional[int]:
        key = (kind, name)
        if key not in self._ids:
            out = ffi.new("uint32_t *")
            encoded = _bytes(name)
            status = self._LOOKUPS[kind](self._handle, encoded, len(encoded), out)
            _raise_for(status, f"entitle_engine_{kind}")
            found = int(out[0]) if status == lib.ENTITLE_STATUS_OK else None
            self._ids[key] = found
            if found is not None:
                self._names[(kind, found)] = name
        return self._ids[key]

    _NAMES = {
        "tier": lib.entitle_engine_tier_name,
        "feature": lib.entitle_engine_feature_name,
        "limit": lib.entitle_engine_limit_name,
        "addon": lib.entitle_engine_addon_name,
        "setting": lib.entitle_engine_setting_name,
    }

    def _name_of(self, kind: str, ident: int) -> Optional[str]:
        key = (kind, ident)
        if key not in self._names:
            name = ffi.new("const uint8_t **")
            length = ffi.new("size_t *")
            status = self._NAMES[kind](self._handle, ident, name, length)
            _raise_for(status, f"entitle_engine_{kind}_name")
            found = ffi.unpack(ffi.cast("char *", name[0]), length[0]).decode() if status == lib.ENTITLE_STATUS_OK else None
            self._names[key] = found
        return self._names[key]

    def tier(self, name: str) -> Optional[int]:
        """The id of a tier, or None if the policy declares none of that name."""
        return self._id("tier", name)

    def feature(self, name: str) -> Optional[int]:
        """The id of a feature, or None."""
        return self._id("feature", name)

    def limit(self, name: str) -> Optional[int]:
        """The id of a limit, or None."""
        return self._id("limit", name)

    def addon(self, name: str) -> Optional[int]:
        """The id of an add-on, or None."""
        return self._id("addon", name)

    def setting(self, name: str) -> Optional[int]:
        """The id of a setting, or None."""
        return self._id("setting", name)

    # Questions.

    def request(
        self,
        tier: Union[str, int],
        *,
        key: str = "",
        addons: Sequence[Union[str, int]] = (),
        billing_anchor: int = 1,
        now: Instant = None,
    ) -> Request:
        """Who is asking and when: a tier (name or id), the stable subject key rollouts hash,
        the add-ons held, the billing anchor day (1–31), and `now` as Unix seconds or an aware
        datetime (the current time when left out). Build it once and reuse it."""
        return Request(self, tier, key, addons, billing_anchor, _seconds(now))

    def decide(self, request: Request, feature: Union[str, int]) -> Decision:
        """Whether the subject may use `feature` (a name or id), and why. Unknown names and
        ids are denials with an ``unknown_*`` reason."""
        out = _buffers.decision
        if isinstance(feature, str):
            encoded = _bytes(feature)
            status = lib.entitle_decide_by_name(self._handle, request._handle, encoded, len(encoded), out)
        else:
            status = lib.entitle_decide(self._handle, request._handle, feature, out)
        _raise_for(status, "entitle_decide")
        return Decision(bool(out.allowed), _REASONS[out.reason])

    def is_allowed(self, request: Request, feature: Union[str, int]) -> bool:
        """Whether the subject may use `feature`; `decide` says why."""
        if isinstance(feature, str):
            return self.decide(request, feature).allowed
        out = _buffers.allowed
        status = lib.entitle_is_allowed(self._handle, request._handle, feature, out)
        if status not in _ANSWERED:
            _raise_for(status, "entitle_is_allowed")
        return bool(out[0])

    def check_limit(self, request: Request, limit: Union[str, int], used: int = 0, requested: int = 0) -> Quota:
        """How much of `limit` is left given `used`, and whether `requested` more may be used."""
        out = _buffers.quota
        if isinstance(limit, str):
            encoded = _bytes(limit)
            status = lib.entitle_check_limit_by_name(
                self._handle, request._handle, encoded, len(encoded), used, requested, out
            )
        else:
            status = lib.entitle_check_limit(self._handle, request._handle, limit, used, requested, out)
        _raise_for(status, "entitle_check_limit")
        return Quota(
            allowed=bool(out.allowed),
            reason=_REASONS[out.reason],
            status=_LIMIT_STATUSES[out.status],
            limit=_amount(out.limit),
            soft_cap=_amount(out.soft_cap) if out.has_soft_cap else None,
            remaining=_amount(out.remaining),
            window=Window(int(out.window_start), int(out.window_end)) if out.has_window else None,
        )

    def setting_value(self, request: Request, setting: Union[str, int]) -> Union[int, str, None]:
        """A setting's value in base units (a count, bytes, seconds, millionths of a percent,
        or text), or None when nothing sets it. An unknown name or id raises `KeyError`."""
        out = _buffers.setting
        if isinstance(setting, str):
            encoded = _bytes(setting)
            status = lib.entitle_setting_value_by_name(self._handle, request._handle, encoded, len(encoded), out)
        else:
            status = lib.entitle_setting_value(self._handle, request._handle, setting, out)
        _raise_for(status, "entitle_setting_value")
        if status != lib.ENTITLE_STATUS_OK:
            raise KeyError(setting)
        if out.kind == lib.ENTITLE_SETTING_KIND_NONE:
            return None
        if out.kind == lib.ENTITLE_SETTING_KIND_TEXT:
            return ffi.unpack(ffi.cast("char *", out.text), out.text_len).decode("utf-8")
        return int(out.number)

    def explain_feature(self, request: Request, feature: int) -> dict[str, Any]:
        """The decision with the rules behind it and an upgrade hint, as the JSON of `wire`."""
        out = ffi.new("char **")
        status = lib.entitle_explain_feature(self._handle, request._handle, feature, out)
        return self._take_json(status, out, "entitle_explain_feature")

    def explain_limit(self, request: Request, limit: int, used: int = 0, requested: int = 0) -> dict[str, Any]:
        """The quota with the rules behind it and an upgrade hint, as the JSON of `wire`."""
        out = ffi.new("char **")
        status = lib.entitle_explain_limit(self._handle, request._handle, limit, used, requested, out)
        return self._take_json(status, out, "entitle_explain_limit")

    def query_json(self, query: Union[str, dict[str, Any]]) -> dict[str, Any]:
        """Answers one query of the JSON Lines protocol of `entitle eval`."""
        text = query if isinstance(query, str) else json.dumps(query)
        encoded = _bytes(text)
        out = ffi.new("char **")
        status = lib.entitle_query_json(self._handle, encoded, len(encoded), out)
        return self._take_json(status, out, "entitle_query_json")

    @staticmethod
    def _take_json(status: int, out: Any, what: str) -> dict[str, Any]:
        _raise_for(status, what)
        try:
            return json.loads(ffi.string(out[0]).decode())
        finally:
            lib.entitle_string_free(out[0])
