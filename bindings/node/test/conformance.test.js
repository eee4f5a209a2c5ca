'use strict';
// The conformance corpus (tests/conformance/) answered through the typed Node API must equal
// the Rust answers (the JSON protocol, through the same engine) and meet the corpus's
// expectations. As in the C and Python runs, windows are compared as Unix seconds (with
// `rolling` where the JSON answer has it) and a setting's `display` text is compared where the
// typed answer has it; queries the JSON protocol rejects, and whole entitlements, are checked
// through `queryJson` alone. A
// `NAME.overrides` file beside `NAME.policy` is an override set checked against that policy and
// applied to every query of `NAME.jsonl`, through `request({ overrides })` and `queryJson`.

const test = require('node:test');
const assert = require('node:assert/strict');
const { existsSync, readFileSync, readdirSync } = require('node:fs');
const { join } = require('node:path');
const { isDeepStrictEqual } = require('node:util');

const { Engine, Overrides, UnknownNameError } = require('..');

const CORPUS = join(__dirname, '..', '..', '..', 'tests', 'conformance');
const FIELDS = new Set(['id', 'tier', 'key', 'addons', 'seats', 'now', 'billing_anchor', 'feature', 'limit', 'limits', 'setting', 'used', 'requested', 'explain']);
const HELD_FIELDS = new Set(['addon', 'quantity', 'acquired']);
// The instants the protocol accepts: a date, or RFC 3339 in UTC (a fraction dropped).
const INSTANT = /^(\d{4}-\d{2}-\d{2})(?:[Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:[Zz]|\+00:00))?$/;

function seconds(text) {
  const match = INSTANT.exec(text);
  if (!match) return null;
  const [, date, hour = '0', minute = '0', second = '0'] = match;
  const [h, m, s] = [hour, minute, second].map(Number);
  if (h > 23 || m > 59 || s > 59) return null;
  const midnight = Date.parse(`${date}T00:00:00Z`) / 1000;
  return Number.isNaN(midnight) ? null : midnight + h * 3600 + m * 60 + s;
}

const isCount = (n) => (typeof n === 'bigint' && n >= 0n && n < 2n ** 64n) || (Number.isSafeInteger(n) && n >= 0);

/** A query's `addons` as `request` takes them (an object's instant in Unix seconds), or
 * `undefined` for a list the protocol refuses. */
function heldAddons(addons) {
  if (!Array.isArray(addons)) return undefined;
  const out = [];
  for (const item of addons) {
    if (typeof item === 'string') {
      out.push(item);
      continue;
    }
    if (item === null || typeof item !== 'object' || Object.keys(item).some((k) => !HELD_FIELDS.has(k))) return undefined;
    if (typeof item.addon !== 'string') return undefined;
    const quantity = item.quantity ?? 1;
    const acquired = typeof item.acquired === 'string' ? seconds(item.acquired) : item.acquired ?? null;
    // An instant the protocol refuses (`seconds` gives null for text that is not one) is
    // refused here too, never taken as "not given".
    if (typeof item.acquired === 'string' && acquired === null) return undefined;
    if (!isCount(quantity) || (acquired !== null && !Number.isSafeInteger(acquired))) return undefined;
    out.push({ addon: item.addon, quantity, acquired });
  }
  return out;
}

/** JSON parsed exactly: an integer past 2^53 (the corpus asks with `used`, `seats` and
 * quantities of 2^64 − 1) becomes a bigint instead of a rounded number, as the typed API
 * answers it. The integers are found outside strings, where JSON puts numbers. */
function parseExact(text) {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i += 1) {
    const ch = text[i];
    if (inString) {
      out += ch;
      if (ch === '\\') {
        out += text[i + 1];
        i += 1;
      } else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') {
      inString = true;
      out += ch;
      continue;
    }
    const digits = /^-?\d+(?![.eE\d])/.exec(text.slice(i));
    if (digits && /[:\[,\s]/.test(text[i - 1] ?? ' ') && !Number.isSafeInteger(Number(digits[0]))) {
      out += `"\\u0000${digits[0]}"`;
      i += digits[0].length - 1;
      continue;
    }
    out += ch;
  }
  return JSON.parse(out, (_, value) => (typeof value === 'string' && value.startsWith('\u0000') ? BigInt(value.slice(1)) : value));
}

/** JSON text for a message, bigints written as their digits. */
const show = (value) => JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? v.toString() : v));

function corpus() {
  const cases = [];
  for (const file of readdirSync(CORPUS).filter((f) => f.endsWith('.policy')).sort()) {
    const policy = join(CORPUS, file);
    const lines = readFileSync(policy.replace(/\.policy$/, '.jsonl'), 'utf8').split('\n');
    lines.forEach((line, i) => {
      if (line.trim() && !line.startsWith('#')) {
        const origin = `${file.replace(/\.policy$/, '.jsonl')}:${i + 1}`;
        cases.push({ policy, origin, raw: rawQuery(line), ...parseExact(line) });
      }
    });
  }
  return cases;
}

/** Whether `actual` has everything `expected` lists (`null` meaning absent or null). */
function contains(expected, actual) {
  if (Array.isArray(expected)) {
    return Array.isArray(actual) && expected.length === actual.length && expected.every((e, i) => contains(e, actual[i]));
  }
  if (expected !== null && typeof expected === 'object') {
    return (
      actual !== null &&
      typeof actual === 'object' &&
      Object.entries(expected).every(([k, v]) => (v === null && (actual[k] === undefined || actual[k] === null)) || (k in actual && contains(v, actual[k])))
    );
  }
  return isDeepStrictEqual(expected, actual);
}

/** The text of a line's `query` object, as written: `JSON.parse` would round integers past
 * 2^53 (the corpus asks with `used` = 2^64 − 1), and the query must reach Rust exact. */
function rawQuery(line) {
  const start = line.indexOf('{', line.indexOf('"query"'));
  let depth = 0;
  let inString = false;
  for (let i = start; i < line.length; i += 1) {
    const ch = line[i];
    if (inString) {
      if (ch === '\\') i += 1;
      else if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if (ch === '{') depth += 1;
    else if (ch === '}') {
      depth -= 1;
      if (depth === 0) return line.slice(start, i + 1);
    }
  }
  throw new Error(`no query object in ${line}`);
}

/** An amount of the raw query, exact: a number when safe, else a bigint. */
function rawAmount(raw, field, parsed) {
  if (parsed === undefined || typeof parsed === 'bigint' || Number.isSafeInteger(parsed)) return parsed ?? 0;
  const match = new RegExp(`"${field}"\\s*:\\s*(\\d+)[,}\\s]`).exec(raw);
  return match ? BigInt(match[1]) : parsed;
}

/** The query asked through `request` and the typed calls, in the JSON shape; `undefined`
 * for a query the typed API does not take (the JSON protocol must then refuse it). */
function typed(engine, overrides, query, raw) {
  if (Object.keys(query).some((k) => !FIELDS.has(k)) || typeof query.tier !== 'string') return undefined;
  const now = typeof query.now === 'string' ? seconds(query.now) : query.now;
  if (!Number.isSafeInteger(now)) return undefined;
  const kinds = ['feature', 'limit', 'limits', 'setting'].filter((k) => k in query);
  const anchor = query.billing_anchor ?? 1;
  if (kinds.length !== 1 || !Number.isInteger(anchor) || anchor < 1 || anchor > 31) return undefined;
  if ('id' in query && typeof query.id !== 'string' && typeof query.id !== 'number') return undefined;
  const addons = heldAddons(query.addons ?? []);
  if (addons === undefined || typeof (query.key ?? '') !== 'string') return undefined;
  // A `seats` of null is refused by the protocol, not taken as absent.
  if ('seats' in query && !isCount(query.seats)) return undefined;
  const seats = query.seats ?? null;
  const used = rawAmount(raw, 'used', query.used);
  const requested = rawAmount(raw, 'requested', query.requested);
  if (![used, requested].every((n) => typeof n === 'bigint' || (Number.isSafeInteger(n) && n >= 0))) return undefined;
  const request = engine.request({ tier: query.tier, key: query.key ?? '', addons, seats, billingAnchor: anchor, now, overrides });
  const [kind] = kinds;
  if (kind === 'limits') return typedLimits(engine, request, query);
  if (typeof query[kind] !== 'string') return undefined;
  if (kind === 'feature') {
    const decision = engine.decide(request, query.feature);
    // The same answer by id, when the feature has one, and through the batch call.
    const id = engine.feature(query.feature);
    if (id !== null) assert.equal(engine.isAllowed(request, id), decision.allowed);
    assert.deepEqual(engine.isAllowedMany(request, [query.feature, query.feature]), [decision.allowed, decision.allowed]);
    return { allowed: decision.allowed, reason: decision.reason };
  }
  if (kind === 'limit') {
    const q = engine.checkLimit(request, query.limit, used, requested);
    if (requested === 0) {
      // The batch call, which requests nothing, answers alike.
      assert.deepEqual(engine.checkLimitMany(request, [query.limit, query.limit], [used, used]), [q, q]);
    }
    return withDraw(engine, request, query.limit, used, requested, quotaAnswer(q));
  }
  try {
    const value = engine.settingValue(request, query.setting);
    return value === null ? { value: null, display: null } : { value: value.value, display: value.display };
  } catch (error) {
    assert.ok(error instanceof UnknownNameError, String(error));
    return { allowed: false, reason: error.reason };
  }
}

/** A typed quota in the JSON shape, its window in Unix seconds. */
function quotaAnswer(q) {
  const answer = { allowed: q.allowed, reason: q.reason, status: q.status, limit: q.limit, soft_cap: q.softCap, remaining: q.remaining };
  if (q.seats !== null) answer.seats = q.seats;
  if (q.overridden) answer.overridden = true;
  if (q.window) answer.window = windowAnswer(q.window);
  return answer;
}

/** A typed window in the JSON shape, in Unix seconds: `rolling` only when it rolls, as the
 * JSON answer says it. */
function windowAnswer(w) {
  return { start: w.start, end: w.end, ...(w.rolling ? { rolling: true } : {}) };
}

/** A `limits` query through `checkLimits`, in the JSON shape; `undefined` for one the typed
 * API does not take. */
function typedLimits(engine, request, query) {
  const items = query.limits;
  if (query.explain || !Array.isArray(items)) return undefined;
  const fields = new Set(['limit', 'used', 'requested']);
  const plain = (i) => i !== null && typeof i === 'object' && !Array.isArray(i) && typeof i.limit === 'string';
  if (!items.every((i) => plain(i) && Object.keys(i).every((k) => fields.has(k)))) return undefined;
  const used = items.map((i) => i.used ?? 0);
  const requested = items.map((i) => i.requested ?? 0);
  if (![...used, ...requested].every(isCount)) return undefined;
  const batch = engine.checkLimits(request, items.map((i) => i.limit), used, requested);
  assert.equal(batch.allowed, batch.answers.every((q) => q.allowed));
  // Each answer is the single call's.
  items.forEach((item, i) => assert.deepEqual(batch.answers[i], engine.checkLimit(request, item.limit, used[i], requested[i])));
  const limits = batch.answers.map((q, i) => withDraw(engine, request, items[i].limit, used[i], requested[i], quotaAnswer(q)));
  return { allowed: batch.allowed, binding: batch.binding, limits };
}

/** `answer`, for a limit that draws on a pool, with what `checkDraw` adds in the JSON answer's
 * field names; its quota must be `checkLimit`'s. */
function withDraw(engine, request, limit, used, requested, answer) {
  if (engine.pool(limit) === null) return answer;
  const draw = engine.checkDraw(request, limit, used, requested);
  assert.deepEqual(quotaAnswer(draw.quota), answer);
  return { ...answer, pool: draw.pool, cost: draw.cost, remaining_units: draw.remainingUnits };
}

/** The Rust answer in the typed shape: windows in Unix seconds, no id, no explanation. */
function normalised(answer) {
  const out = { ...answer };
  delete out.id;
  delete out.explain;
  // Which held add-ons a limit used is told by the JSON answer and the explanation; the typed
  // answers carry the seat count.
  delete out.addons;
  if (out.window) out.window = { ...out.window, start: seconds(out.window.start), end: seconds(out.window.end) };
  if (Array.isArray(out.limits)) out.limits = out.limits.map(normalised);
  return out;
}

const cases = corpus();
const engines = new Map();
/** The engine of `policy` and the override set beside it (null when it has none). */
function engineFor(policy) {
  if (!engines.has(policy)) {
    const engine = Engine.fromPath(policy);
    const beside = policy.replace(/\.policy$/, '.overrides');
    engines.set(policy, { engine, overrides: existsSync(beside) ? Overrides.fromPath(engine, beside) : null });
  }
  return engines.get(policy);
}

test('the corpus is large', () => {
  assert.ok(cases.length > 50, `only ${cases.length} cases`);
});

const reasons = new Set();
let typedCount = 0;
let rollingCount = 0;
for (const c of cases) {
  test(`corpus ${c.origin}`, () => {
    const { engine, overrides } = engineFor(c.policy);
    const rust = parseExact(engine.queryJson(c.raw, overrides));
    assert.ok(contains(c.expect, rust), `JSON answer ${show(rust)} does not meet ${show(c.expect)}`);
    if (c.query.entitlements === true || 'usage' in c.query) {
      if ('error' in rust) return; // a query the protocol refuses has no typed form
      const { id, entitlements, usage = {}, tier, key = '', addons = [], seats = null, now, billing_anchor: anchor = 1, ...rest } = c.query;
      assert.deepEqual(rest, {}, 'an entitlements query with fields this test does not know');
      const held = heldAddons(addons);
      const at = typeof now === 'string' ? seconds(now) : now;
      const request = engine.request({ tier, key, addons: held, seats, billingAnchor: anchor, now: at, overrides });
      const all = engine.entitlements(request, usage);
      const quotaJson = (q) => ({
        allowed: q.allowed,
        reason: q.reason,
        status: q.status,
        limit: q.limit,
        soft_cap: q.softCap,
        remaining: q.remaining,
        ...(q.seats !== null ? { seats: q.seats } : {}),
        ...(q.overridden ? { overridden: true } : {}),
        ...(q.window ? { window: windowAnswer(q.window) } : {}),
      });
      const map = (object, shape) => Object.fromEntries(Object.entries(object).map(([name, answer]) => [name, shape(answer)]));
      const typedAll = {
        features: map(all.features, (d) => ({ allowed: d.allowed, reason: d.reason })),
        limits: map(all.limits, quotaJson),
        settings: map(all.settings, (v) => {
          if (v === null) return { value: null, display: null };
          return 'reason' in v ? { allowed: false, reason: v.reason } : { value: v.value, display: v.display };
        }),
      };
      // The typed entitlements give each limit its `Quota`; `checkDraw` adds a pool's terms.
      const withoutDraw = (answer) => {
        const { pool, cost, remaining_units: units, ...rest } = normalised(answer);
        return rest;
      };
      const expected = { features: rust.features, limits: map(rust.limits, withoutDraw), settings: rust.settings };
      assert.deepEqual(typedAll, expected);
      typedCount += 1;
      return;
    }
    const answer = typed(engine, overrides, c.query, c.raw);
    if (answer === undefined) {
      // The typed API takes `now` as a safe integer or a Date, and neither holds an instant
      // past 2^53 seconds (rolling.jsonl asks at 2^63 − 1, which the protocol clamps): such a
      // case is checked through `queryJson` alone, above.
      if (typeof c.query.now === 'bigint') return;
      assert.ok('error' in rust, `the typed API skipped a query the JSON protocol accepts: ${show(c.query)}`);
      return;
    }
    typedCount += 1;
    if (answer.reason) reasons.add(answer.reason);
    if (answer.window?.rolling) rollingCount += 1;
    assert.deepEqual(answer, normalised(rust));
  });
}

test('the typed calls answered most of the corpus, gave every reason and a rolling window', () => {
  assert.ok(typedCount > 50, `only ${typedCount} cases went through the typed calls`);
  const every = [
    'granted_by_tier', 'granted_by_addon', 'granted_by_rollout', 'not_granted', 'revoked', 'outside_rollout',
    'addon_not_valid', 'addon_not_for_tier', 'within_limit', 'overage', 'limit_exceeded', 'unknown_tier',
    'unknown_feature', 'unknown_limit', 'unknown_addon', 'unknown_setting', 'too_many_addons', 'limit_not_set',
    'duplicate_addon', 'quantity_above_max', 'seats_not_given', 'acquisition_not_given',
    'granted_by_override', 'revoked_by_override',
    // `overrides_not_for_engine` is not here: a corpus set is checked against the policy beside
    // it, so no case can carry a foreign one; test/overrides.test.js gives it.
  ];
  const missing = every.filter((r) => !reasons.has(r));
  assert.deepEqual(missing, [], `no corpus case gives ${missing.join(', ')} through the typed calls`);
  assert.ok(rollingCount > 0, `no corpus case says through the typed calls that a limit's window rolls`);
});
