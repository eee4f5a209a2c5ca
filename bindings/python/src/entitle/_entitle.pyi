"""Type hints of the native module (`rust/lib.rs`)."""

import os
from datetime import datetime
from typing import Any, Iterable, Mapping, Optional, Union

from ._types import Decision, Draw, Entitlements, Held, LimitBatch, OverrideRecord, Quota, Setting

Instant = Union[int, datetime, None]
NameOrId = Union[str, int]

def version() -> str:
    """The version of the engine, such as ``"0.1.0"``."""

class Request:
    """Who is asking and when, made by `Engine.request` and answered by that engine only;
    frozen: its fields cannot be reassigned."""

    @property
    def tier(self) -> Union[str, int]: ...
    @property
    def key(self) -> str: ...
    @property
    def addons(self) -> tuple[Union[str, int, Held], ...]: ...
    @property
    def seats(self) -> Optional[int]:
        """The seat count, or None when not given."""
    @property
    def billing_anchor(self) -> int: ...
    @property
    def now(self) -> int: ...
    @property
    def overrides(self) -> Optional["Overrides"]:
        """The override set the questions apply, or None."""

class Overrides:
    """A checked set of per-customer overrides (JSON Lines records), for the engine it was
    checked against; given to `Engine.request` (``overrides=``) and `Engine.query_json`.
    Frozen; a set given to an engine of another policy answers ``overrides_not_for_engine``
    for the subjects it has records for."""

    @staticmethod
    def from_jsonl(engine: "Engine", text: str, name: Optional[str] = None) -> "Overrides":
        """Checks JSON Lines records against `engine`; raises `PolicyError` with every
        diagnostic (``name:line:column``; `name` defaults to ``"<overrides>"``)."""
    @staticmethod
    def from_path(engine: "Engine", path: Union[str, "os.PathLike[str]"]) -> "Overrides":
        """Reads and checks a JSON Lines file; raises `PolicyError` or `EntitleError`."""
    def __len__(self) -> int:
        """How many records the set holds."""
    @property
    def subject_count(self) -> int: ...
    @property
    def policy_hash(self) -> str: ...
    @property
    def name(self) -> str: ...
    def subjects(self) -> list[str]:
        """The subject keys that have records, sorted."""
    def records(self, key: str) -> list[OverrideRecord]:
        """The records of subject `key`; empty when it has none."""

class FeatureList:
    """Features resolved to ids once (`Engine.feature_list`), for the batch calls of a page
    asked again and again; read by its engine's `is_allowed_many` and `decide_many` with no
    conversion of each item. Frozen."""

    def __len__(self) -> int: ...
    @property
    def features(self) -> tuple[NameOrId, ...]:
        """The features as given: names or ids."""

class Engine:
    """A compiled policy. Load with `from_path`, `from_source` or `from_bundle`; query from
    any thread."""

    @staticmethod
    def from_source(text: str, name: Optional[str] = None) -> "Engine": ...
    @staticmethod
    def from_path(path: Union[str, "os.PathLike[str]"]) -> "Engine": ...
    @staticmethod
    def from_bundle(data: Union[bytes, bytearray]) -> "Engine": ...
    @property
    def policy_hash(self) -> str: ...
    def tier(self, name: str) -> Optional[int]: ...
    def feature(self, name: str) -> Optional[int]: ...
    def limit(self, name: str) -> Optional[int]: ...
    def addon(self, name: str) -> Optional[int]: ...
    def setting(self, name: str) -> Optional[int]: ...
    def request(
        self,
        tier: Union[str, int],
        *,
        key: str = "",
        addons: Iterable[Union[NameOrId, Held]] = (),
        seats: Optional[int] = None,
        billing_anchor: int = 1,
        now: Instant = None,
        overrides: Optional[Overrides] = None,
    ) -> Request:
        """Who is asking and when. ``addons`` are names, ids or `Held` (an add-on with its
        quantity and acquisition instant); ``seats`` is the seat count per-seat values are
        multiplied by (None: not given, and a limit with a per-seat value in force answers
        ``seats_not_given``); ``overrides`` is an `Overrides` set whose records for ``key``
        every question applies last."""
    def is_allowed(self, request: Request, feature: NameOrId) -> bool: ...
    def feature_list(self, features: Iterable[NameOrId]) -> FeatureList:
        """The features of a page resolved once, for this engine's batch calls."""
    def is_allowed_many(self, request: Request, features: Union[FeatureList, Iterable[NameOrId]]) -> list[bool]:
        """`is_allowed` for each feature, in one call; the answers in the same order. A str
        is refused (it is one name: give ``[name]``)."""
    def decide(self, request: Request, feature: NameOrId) -> Decision: ...
    def decide_many(self, request: Request, features: Union[FeatureList, Iterable[NameOrId]]) -> list[Decision]:
        """`decide` for each feature, in one call; the answers in the same order."""
    def check_limit(self, request: Request, limit: NameOrId, used: int = 0, requested: int = 0) -> Quota: ...
    def check_limit_many(
        self, request: Request, limits: Iterable[NameOrId], used: Optional[Iterable[int]] = None
    ) -> list[Quota]:
        """`check_limit` for each limit, in one call: ``used[i]`` is the use of ``limits[i]``
        (None: 0 for each; another length raises `ValueError`), nothing more is requested."""
    def check_limits(
        self,
        request: Request,
        limits: Iterable[NameOrId],
        used: Optional[Iterable[int]] = None,
        requested: Optional[Iterable[int]] = None,
    ) -> LimitBatch:
        """One request against several limits (a per-second burst, a daily cap, a monthly
        allowance): ``used[i]`` and ``requested[i]`` are those of ``limits[i]`` (None: 0 for
        each; another length raises `ValueError`). Every answer, and the one that binds."""
    def check_draw(self, request: Request, limit: NameOrId, used: int = 0, requested: int = 0) -> Draw:
        """`check_limit` for a limit that may draw on a pool: ``used`` is the pool's use and
        ``requested`` is in the limit's own units; the pool's answer with the pool's name, the
        request's cost and what is left in the limit's units."""
    def pool(self, limit: NameOrId) -> Optional[str]:
        """The name of the pool ``limit`` draws on; None for one that draws on nothing."""
    def setting_value(self, request: Request, setting: NameOrId) -> Optional[Setting]: ...
    def entitlements(self, request: Request, usage: Optional[Mapping[NameOrId, int]] = None) -> Entitlements:
        """Every feature, limit (given ``usage[name]``, 0 where absent) and setting of the
        policy, answered for the subject and keyed by name in declaration order. A `usage`
        key that names no limit raises `QueryError`."""
    def explain_feature(self, request: Request, feature: NameOrId) -> dict[str, Any]: ...
    def explain_limit(self, request: Request, limit: NameOrId, used: int = 0, requested: int = 0) -> dict[str, Any]: ...
    def query_json(self, query: Union[str, dict[str, Any]], overrides: Optional[Overrides] = None) -> dict[str, Any]:
        """One query of the JSON Lines protocol, with the records of ``overrides`` for the
        query's ``key`` applied."""
