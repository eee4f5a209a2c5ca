// The public API of `index.js`, declared for TypeScript. `test/api.test.js` checks that every
// member declared here exists at run time.

/** The value of an amount with no bound, as in the JSON answers of `entitle eval`. */
export declare const UNLIMITED: 'unlimited';

/**
 * An amount in base units (a count, bytes, seconds). A `number` when it is exact as one (up to
 * `Number.MAX_SAFE_INTEGER`), a `bigint` past that, so that no `u64` loses precision, and
 * `"unlimited"` for no bound.
 */
export type Amount = number | bigint | 'unlimited';

/** An amount a caller passes in: a safe non-negative integer, or a bigint up to 2^64 − 1. */
export type AmountIn = number | bigint;

/** A name, or an id from `engine.tier()`, `feature()`, … of the same engine. */
export type NameOrId = string | number;

export type Reason =
  | 'granted_by_tier'
  | 'granted_by_addon'
  | 'granted_by_rollout'
  | 'not_granted'
  | 'revoked'
  | 'outside_rollout'
  | 'addon_not_valid'
  | 'addon_not_for_tier'
  | 'within_limit'
  | 'overage'
  | 'limit_exceeded'
  | 'unknown_tier'
  | 'unknown_feature'
  | 'unknown_limit'
  | 'unknown_addon'
  | 'unknown_setting'
  | 'too_many_addons'
  | 'limit_not_set'
  | 'duplicate_addon'
  | 'quantity_above_max'
  | 'seats_not_given'
  | 'acquisition_not_given'
  /** A record of the request's `Overrides` grants the feature, whatever the plan says. */
  | 'granted_by_override'
  /** A record of the request's `Overrides` revokes the feature, whatever the plan says. */
  | 'revoked_by_override'
  /** The request's `Overrides` were checked against another policy than the engine's. */
  | 'overrides_not_for_engine';

export type LimitStatus = 'within' | 'warning' | 'overage' | 'exceeded';

/** One finding about a policy, with its stable code and location (1-based). */
export interface Diagnostic {
  readonly code: string;
  readonly severity: 'error' | 'warning';
  readonly message: string;
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly endLine: number;
  readonly endColumn: number;
  readonly help: string | null;
}

/** A call failed for a reason other than the answer: `code` is `policy`, `io`, `bundle`, or `reentered` (a batch call made from inside another batch call's list). */
export declare class EntitleError extends Error {
  readonly code: string;
}

/** A policy, or an override set checked against one (`Overrides.fromJsonl`, `fromPath`), does
 * not check. The message names the first error's `file:line:column`. */
export declare class PolicyError extends EntitleError {
  readonly code: 'policy';
  readonly diagnostics: readonly Diagnostic[];
}

/** `settingValue` of an unknown tier, add-on or setting, or with too many add-ons. */
export declare class UnknownNameError extends EntitleError {
  readonly code: 'unknown';
  readonly reason: Reason;
}

/** An add-on held in a quantity and, for a trial, since an instant. */
export interface HeldAddon {
  /** The add-on, by name or id. */
  addon: NameOrId;
  /** How many are held: 1 by default; 0 holds nothing; more than the add-on's maximum (1
   * unless the policy declares more) is refused with `quantity_above_max`. */
  quantity?: AmountIn;
  /** When it was acquired (where a trial's length counts from): whole Unix seconds or a
   * `Date`; `null` or absent when not given. */
  acquired?: number | Date | null;
}

/** An add-on as a request keeps it: a name or an id as given, or the object with its
 * acquisition in Unix seconds. */
export type HeldIn = NameOrId | { readonly addon: NameOrId; readonly quantity: AmountIn; readonly acquired: number | null };

export interface RequestOptions {
  /** The subject's tier, by name or id. */
  tier: NameOrId;
  /** The stable subject key (customer or app id) that rollouts hash; `""` by default. */
  key?: string;
  /** The add-ons the subject holds, by name or id (each held once) or as `{ addon, quantity?,
   * acquired? }` (an array, even of one). */
  addons?: readonly (NameOrId | HeldAddon)[];
  /** The seat count per-seat values are multiplied by; `null` or absent when not given (a
   * limit with a per-seat value in force then answers `seats_not_given`). */
  seats?: AmountIn | null;
  /** The day of the month (1–31) on which monthly counters reset; 1 by default. */
  billingAnchor?: number;
  /** The instant of the question: whole Unix seconds, or a `Date` (rounded down to the second). */
  now: number | Date;
  /** Per-customer overrides: every question applies the set's records for `key` last, after
   * the tier, seats and add-ons; `null` or absent for none. */
  overrides?: Overrides | null;
}

/** Who is asking and when: made by `engine.request()`, immutable, and answered only by the
 * engine that made it (another engine throws a `TypeError`). */
export declare class Request {
  private constructor();
  readonly tier: NameOrId;
  readonly key: string;
  readonly addons: readonly HeldIn[];
  /** The seat count as given, or `null`. */
  readonly seats: AmountIn | null;
  readonly billingAnchor: number;
  /** Unix seconds. */
  readonly now: number;
  /** The override set the questions apply, or `null`. */
  readonly overrides: Overrides | null;
}

/** One record of an override set, in the fields of its JSON Lines record: the one `feature`,
 * `limit` or `setting` it changes (the others `null`), its `op`, its `value` (an amount for a
 * limit, a setting's value for a setting, `null` for a feature), when it applies (`[from,
 * until)` in Unix seconds, `null` for no bound), why and by whom, and its line in the set. */
export interface OverrideRecord {
  readonly subject: string;
  readonly op: 'grant' | 'revoke' | '=' | '+=' | 'at_least' | 'at_most';
  readonly feature: string | null;
  readonly limit: string | null;
  readonly setting: string | null;
  readonly value: Amount | SettingValue | null;
  readonly perSeat: boolean;
  readonly from: number | null;
  readonly until: number | null;
  readonly reason: string;
  readonly author: string;
  readonly line: number;
}

/** A checked set of per-customer overrides, for the engine it was checked against. Immutable;
 * given to an engine of another policy, every question about a subject it has records for is
 * denied `overrides_not_for_engine`. */
export declare class Overrides {
  private constructor();
  /** Reads and checks JSON Lines records against `engine`; throws `PolicyError` with every
   * diagnostic at its record's line (`name`, `<overrides>` by default, is how they cite it). */
  static fromJsonl(engine: Engine, text: string, name?: string): Overrides;
  /** Reads and checks a JSON Lines file; throws `PolicyError`, or `EntitleError` (`io`). */
  static fromPath(engine: Engine, path: string): Overrides;
  /** How many records the set holds. */
  readonly size: number;
  /** How many subjects have records. */
  readonly subjectCount: number;
  /** The SHA-256 of the policy the set was checked against. */
  readonly policyHash: string;
  /** The name the set was read under. */
  readonly name: string;
  /** The subject keys that have records, sorted. */
  subjects(): string[];
  /** Every record of subject `key`; empty when it has none. */
  records(key: string): readonly OverrideRecord[];
}

/** The answer to "may this subject use this feature?". */
export interface Decision {
  readonly allowed: boolean;
  readonly reason: Reason;
}

/** A counter's current window, `[start, end)` in Unix seconds. */
export interface Window {
  readonly start: number;
  /** When the counter resets; for a rolling window, the request's instant. */
  readonly end: number;
  /** Whether the window rolls (`rolling 7 days`): it is `[now − length, now)`, trailing the
   * request's instant rather than resetting at a boundary, and the usage to give is what was
   * used within it. */
  readonly rolling: boolean;
}

/** The answer to "how much of this limit is left, and may this request proceed?". */
export interface Quota {
  readonly allowed: boolean;
  readonly reason: Reason;
  readonly status: LimitStatus;
  readonly limit: Amount;
  /** `null` for a hard limit. */
  readonly softCap: Amount | null;
  /** The limit minus what is used (0 at the least). */
  readonly remaining: Amount;
  /** The seat count the limit was multiplied by; `null` when no per-seat value was in force. */
  readonly seats: number | bigint | null;
  /** `null` for a gauge or a cap. */
  readonly window: Window | null;
  /** Whether a record of the request's `Overrides` changed the limit. */
  readonly overridden: boolean;
}

/** A setting's value, with its kind as the policy language names it: numbers, bytes and
 * durations (seconds) are amounts, a percentage is in millionths of a percent (99.9% is
 * 999000), a string is the text. `display` is the value as the language writes it (`99.9%`,
 * `1 h`, `"forum"`). */
export type SettingValue =
  | { readonly kind: 'number' | 'bytes' | 'duration' | 'percent'; readonly value: number | bigint; readonly display: string }
  | { readonly kind: 'string'; readonly value: string; readonly display: string };

/** One request's answers against several limits (`Engine.checkLimits`). */
export interface LimitBatch {
  /** Whether every limit allows the request (`true` for no limits). */
  readonly allowed: boolean;
  /** The index in `answers` of the answer that binds, `null` for no limits. */
  readonly binding: number | null;
  /** One answer per limit, in the order asked. */
  readonly answers: readonly Quota[];
}

/** A limit that may draw on a pool, answered in both terms (`Engine.checkDraw`). */
export interface Draw {
  /** The pool's answer, in the pool's units: what `checkLimit` answers for the limit. */
  readonly quota: Quota;
  /** The pool's name: the limit's own for a limit that draws on nothing; `null` for an
   * unknown limit (whose answer is `unknown_limit`). */
  readonly pool: string | null;
  /** What the requested units cost the pool, rounded up. */
  readonly cost: Amount;
  /** How many of the limit's own units what is left of the pool pays for, rounded down. */
  readonly remainingUnits: Amount;
}

/** A subject's whole entitlement, as an account page shows it. */
export interface Entitlements {
  readonly features: Readonly<Record<string, Decision>>;
  readonly limits: Readonly<Record<string, Quota>>;
  /** `{ allowed: false, reason }` in place of every value when the request does not resolve. */
  readonly settings: Readonly<Record<string, SettingValue | null | { readonly allowed: false; readonly reason: Reason }>>;
}

/** An answer with the rules behind it, in the JSON shape of `entitle eval` (`"explain": true`). */
export interface Explained<A> {
  readonly answer: A;
  readonly explain: {
    readonly steps: ReadonlyArray<{ readonly rule: string; readonly span?: { readonly start: number; readonly end: number } }>;
    readonly upgrade: { readonly tier?: string; readonly addon?: string } | null;
  };
}

/** A limit's answer as `entitle eval` writes it (amounts as JSON numbers or `"unlimited"`). */
export interface QuotaJson {
  readonly allowed: boolean;
  readonly reason: Reason;
  readonly status: LimitStatus;
  readonly limit: number | 'unlimited';
  readonly soft_cap: number | 'unlimited' | null;
  readonly remaining: number | 'unlimited';
  /** `rolling` is present (and `true`) for a rolling window. */
  readonly window?: { readonly start: string; readonly end: string; readonly rolling?: true };
  /** Present (and `true`) when an override record changed the limit. */
  readonly overridden?: true;
}

/** A compiled policy. Immutable: load it once, then ask any number of questions. */
export declare class Engine {
  private constructor();
  /** Parses, checks and compiles policy text; throws `PolicyError` with every diagnostic. */
  static fromSource(text: string, name?: string): Engine;
  /** Reads a policy file or a compiled bundle; throws `PolicyError` or `EntitleError`. */
  static fromPath(path: string): Engine;
  /** Loads a compiled bundle (`entitle build`); throws `EntitleError` with code `bundle`. */
  static fromBundle(bytes: Uint8Array): Engine;

  /** The SHA-256 of the policy's source, as 64 hex digits. */
  readonly policyHash: string;

  /** The id of a tier, or `null` when the policy declares none of that name. */
  tier(name: string): number | null;
  feature(name: string): number | null;
  limit(name: string): number | null;
  addon(name: string): number | null;
  setting(name: string): number | null;

  /** Who is asking and when. Build it once and reuse it. */
  request(options: RequestOptions): Request;

  /** Whether the subject may use `feature`; `decide` says why. Unknown names and ids deny. */
  isAllowed(request: Request, feature: NameOrId): boolean;
  /** `isAllowed` for many features (names or ids) in one call, each answer in the list's order. */
  isAllowedMany(request: Request, features: readonly NameOrId[]): boolean[];
  /** `decide` for many features (names or ids) in one call, each answer in the list's order. */
  decideMany(request: Request, features: readonly NameOrId[]): Decision[];
  /** Whether the subject may use `feature`, and why. */
  decide(request: Request, feature: NameOrId): Decision;
  /** How much of `limit` is left given `used` (0), and whether `requested` (0) more may be used. */
  checkLimit(request: Request, limit: NameOrId, used?: AmountIn, requested?: AmountIn): Quota;
  /** `checkLimit` for many limits in one call: `used[i]` is the use of `limits[i]` (without
   * `used`, 0 for each), nothing more is requested; answers in the same order. A `used` of
   * another length than `limits` throws a `RangeError`. */
  checkLimitMany(request: Request, limits: readonly NameOrId[], used?: readonly AmountIn[]): Quota[];
  /** One request against several limits: `used[i]` and `requested[i]` are those of
   * `limits[i]` (either left out: 0 for each). Every answer in order, whether all allow the
   * request, and the index of the answer that binds: the first of the worst outcome (the
   * first deny; with none, the first in overage, then at a warning, then the first), `null`
   * for no limits. A list of another length than `limits` throws a `RangeError`. */
  checkLimits(
    request: Request,
    limits: readonly NameOrId[],
    used?: readonly AmountIn[],
    requested?: readonly AmountIn[],
  ): LimitBatch;
  /** `checkLimit` for a limit that may draw on a pool: `used` is the pool's use and
   * `requested` is in the limit's own units; the pool's answer with the pool's name, the
   * request's cost and what is left in the limit's units. */
  checkDraw(request: Request, limit: NameOrId, used?: AmountIn, requested?: AmountIn): Draw;
  /** The name of the pool `limit` draws on, or `null` for a limit that draws on nothing. */
  pool(limit: NameOrId): string | null;
  /** A setting's value for the subject, or `null` when nothing sets it. Throws
   * `UnknownNameError` for an unknown tier, add-on or setting, or too many add-ons. */
  settingValue(request: Request, setting: NameOrId): SettingValue | null;
  /** Everything the subject is entitled to, each answer keyed by name: what `decide`,
   * `checkLimit` (given `usage[name]`, 0 where absent) and `settingValue` answer. When the
   * request's tier or an add-on is unknown (or there are too many add-ons), every answer is a
   * deny with that reason. Throws `UnknownNameError` when `usage` names no limit of the policy. */
  entitlements(request: Request, usage?: Readonly<Record<string, AmountIn>>): Entitlements;
  /** The decision with the rules behind it and an upgrade hint. */
  explainFeature(request: Request, feature: NameOrId): Explained<Decision>;
  /** The quota with the rules behind it and an upgrade hint. */
  explainLimit(request: Request, limit: NameOrId, used?: AmountIn, requested?: AmountIn): Explained<QuotaJson>;
  /** One query line of the `entitle eval` JSON Lines protocol in, one answer line out, with
   * the records of `overrides` for the query's `key` applied. */
  queryJson(line: string, overrides?: Overrides | null): string;
}
