"""The answer types, enums and exceptions of `entitle`, in plain Python so that they stay
frozen dataclasses and `str`-valued enums with their hints. The native module
(`entitle._entitle`) imports this one and builds these from the engine's answers."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Literal, Mapping, Optional, Union

#: The value of an amount with no bound, as in the JSON answers of `entitle eval`.
UNLIMITED: Literal["unlimited"] = "unlimited"

Amount = Union[int, Literal["unlimited"]]


class _Named(str, enum.Enum):
    """An enum whose members are their stable names, and print as them."""

    def __str__(self) -> str:
        return str(self.value)


class Reason(_Named):
    """Why a question was answered the way it was. Each member is its stable name as a `str`
    (``Reason.GRANTED_BY_TIER == "granted_by_tier"``), so JSON carries the same text."""

    GRANTED_BY_TIER = "granted_by_tier"
    GRANTED_BY_ADDON = "granted_by_addon"
    GRANTED_BY_ROLLOUT = "granted_by_rollout"
    NOT_GRANTED = "not_granted"
    REVOKED = "revoked"
    OUTSIDE_ROLLOUT = "outside_rollout"
    ADDON_NOT_VALID = "addon_not_valid"
    ADDON_NOT_FOR_TIER = "addon_not_for_tier"
    WITHIN_LIMIT = "within_limit"
    OVERAGE = "overage"
    LIMIT_EXCEEDED = "limit_exceeded"
    UNKNOWN_TIER = "unknown_tier"
    UNKNOWN_FEATURE = "unknown_feature"
    UNKNOWN_LIMIT = "unknown_limit"
    UNKNOWN_ADDON = "unknown_addon"
    UNKNOWN_SETTING = "unknown_setting"
    TOO_MANY_ADDONS = "too_many_addons"
    LIMIT_NOT_SET = "limit_not_set"
    DUPLICATE_ADDON = "duplicate_addon"
    QUANTITY_ABOVE_MAX = "quantity_above_max"
    SEATS_NOT_GIVEN = "seats_not_given"
    ACQUISITION_NOT_GIVEN = "acquisition_not_given"
    #: A record of the request's `Overrides` grants the feature, whatever the plan says.
    GRANTED_BY_OVERRIDE = "granted_by_override"
    #: A record of the request's `Overrides` revokes the feature, whatever the plan says.
    REVOKED_BY_OVERRIDE = "revoked_by_override"
    #: The request's `Overrides` were checked against another policy than the engine's.
    OVERRIDES_NOT_FOR_ENGINE = "overrides_not_for_engine"


class Status(_Named):
    """Where usage stands against a limit after the request, as its stable name."""

    WITHIN = "within"
    WARNING = "warning"
    OVERAGE = "overage"
    EXCEEDED = "exceeded"


class SettingKind(_Named):
    """What a setting's value is: its type in the policy, which says what its base unit is."""

    NUMBER = "number"
    PERCENT = "percent"
    DURATION = "duration"
    BYTES = "bytes"
    TEXT = "text"


@dataclass(frozen=True)
class Decision:
    """The answer to "may this subject use this feature?"."""

    allowed: bool
    reason: Reason


@dataclass(frozen=True)
class Window:
    """A counter's current window, ``[start, end)`` in Unix seconds. For a rolling limit
    (``rolling 7 days``) `rolling` is True and the window is ``[now - length, now)``: `end` is
    the request's instant, not a reset, and the usage to give is what was used within it."""

    start: int
    end: int
    #: Whether the window trails the request's instant rather than resetting at a boundary.
    rolling: bool = False


@dataclass(frozen=True)
class Quota:
    """The answer to "how much of this limit is left, and may this request proceed?"."""

    allowed: bool
    reason: Reason
    status: Status
    limit: Amount
    soft_cap: Optional[Amount]
    remaining: Amount
    window: Optional[Window]
    #: The seat count the limit was multiplied by; None when no per-seat value was in force.
    seats: Optional[int] = None
    #: Whether a record of the request's `Overrides` changed the limit.
    overridden: bool = False


@dataclass(frozen=True)
class Draw:
    """A limit that draws on a pool, answered in both terms (`Engine.check_draw`): the pool's
    answer (its limit, what is left and its window, in the pool's units), the pool's name,
    what the requested units cost it (rounded up) and how many of the limit's own units what
    is left of the pool pays for (rounded down). For a limit that draws on nothing, the pool
    is the limit itself at 1 per 1."""

    quota: Quota
    pool: str
    cost: int
    remaining_units: Amount


@dataclass(frozen=True)
class LimitBatch:
    """One request checked against several limits (`Engine.check_limits`): each limit's
    answer in the order asked, and `binding`, the index of the answer that decides the
    request: the first answer of the worst outcome (the first deny; with none, the first in
    overage, then the first at a warning, then the first answer). None for no limits."""

    answers: tuple[Quota, ...]
    binding: Optional[int]

    @property
    def allowed(self) -> bool:
        """Whether every limit allows the request (True for no limits)."""
        return all(answer.allowed for answer in self.answers)

    @property
    def binding_answer(self) -> Optional[Quota]:
        """The answer that binds, or None for no limits."""
        return None if self.binding is None else self.answers[self.binding]


@dataclass(frozen=True)
class Held:
    """An add-on a subject holds, for `Engine.request`'s ``addons``: the add-on (a name or an
    id), how many are held (0 holds nothing; more than the add-on's maximum, 1 unless the
    policy declares more, is refused with ``quantity_above_max``) and, for a trial, when it was
    acquired (Unix seconds or an aware datetime, as ``now`` is taken; None when not given).
    The fields are checked when a request is made, and a wrong one is named there
    (``addons[1].quantity``)."""

    addon: Union[str, int]
    quantity: int = 1
    acquired: Union[int, datetime, None] = None


@dataclass(frozen=True)
class OverrideRecord:
    """One record of an `Overrides` set, as `Overrides.records(key)` lists it, in the fields of
    its JSON Lines record: the `subject`, the one `feature`, `limit` or `setting` it changes
    (the others None), its `op` (``"grant"`` or ``"revoke"`` for a feature; ``"="``, ``"+="``,
    ``"at_least"`` or ``"at_most"`` for a limit; ``"="`` for a setting), its `value` (an amount
    in base units or `UNLIMITED` for a limit, a `Setting` for a setting, None for a feature),
    `per_seat`, when it applies (``[from_, until)`` in Unix seconds, None for no bound), its
    `reason` and `author` (empty when not given) and its `line` in the set's text."""

    subject: str
    op: str
    feature: Optional[str] = None
    limit: Optional[str] = None
    setting: Optional[str] = None
    value: Union[Amount, "Setting", None] = None
    per_seat: bool = False
    from_: Optional[int] = None
    until: Optional[int] = None
    reason: str = ""
    author: str = ""
    line: int = 0


@dataclass(frozen=True)
class Setting:
    """A setting's value: its `kind`, the `value` in base units (a count, millionths of a
    percent, seconds, bytes, or text) and `display`, the value as the policy language writes
    it (``"99.9%"``). The kind tells 99.9% (999000 millionths) from the count 999000."""

    kind: SettingKind
    value: Union[int, str]
    display: str


@dataclass(frozen=True)
class Entitlements:
    """A subject's whole entitlement, as an account page or a pricing table shows it: the
    answer to every feature, limit and setting of the policy, keyed by name in declaration
    order. `reason` is None when the request resolves; when its tier or an add-on is unknown,
    or it holds too many add-ons, `reason` says which, every feature and limit is a deny with
    that reason and every setting is None, as `entitle eval` answers such a request."""

    features: Mapping[str, Decision]
    limits: Mapping[str, Quota]
    settings: Mapping[str, Optional[Setting]]
    reason: Optional[Reason] = None


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


class EntitleError(Exception):
    """A call failed; `status` says how, such as ``"io_error"``, ``"bundle_error"`` or
    ``"policy_error"``."""

    def __init__(self, message: str, status: str) -> None:
        super().__init__(message)
        self.status = status


class PolicyError(EntitleError):
    """A policy, or an override set checked against one (`Overrides.from_jsonl`,
    `Overrides.from_path`), does not check. `diagnostics` lists every problem; the message
    names the first error's ``file:line:column``."""

    def __init__(self, message: str, diagnostics: list[Diagnostic]) -> None:
        super().__init__(message, "policy_error")
        self.diagnostics = diagnostics


class QueryError(EntitleError, KeyError):
    """A question with no answer to give: `setting_value` for an unknown setting, tier or
    add-on, or a request holding more add-ons than the engine takes. `reason` says which, as
    the deny of the other questions would (``Reason.TOO_MANY_ADDONS``, ``Reason.UNKNOWN_*``).
    A `KeyError` too, as an unknown setting always was."""

    def __init__(self, message: str, reason: Reason) -> None:
        super().__init__(message, reason.value)
        self.reason = reason

    def __str__(self) -> str:
        return str(self.args[0])


def _policy_error(message: str, diagnostics_json: str) -> PolicyError:
    """The exception for a policy that does not check, from the diagnostics' JSON."""
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
        for d in json.loads(diagnostics_json)
    ]
    return PolicyError(message, diagnostics)


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_SECOND = timedelta(seconds=1)


def _aware_seconds(now: object, parameter: str = "now") -> Optional[int]:
    """Unix seconds of an aware datetime, rounded toward the past; None for anything that is
    not a datetime; ValueError for a naive one, whose instant depends on the machine, naming
    `parameter`."""
    if not isinstance(now, datetime):
        return None
    if now.utcoffset() is None:
        raise ValueError(f"entitle: `{parameter}` must be an aware datetime (with a time zone) or Unix seconds (int)")
    return (now - _EPOCH) // _SECOND
