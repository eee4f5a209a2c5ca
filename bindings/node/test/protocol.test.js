'use strict';
// Every question the `entitle eval` JSON protocol asks has a typed call that answers it alike:
// features, limits, settings (kind, value, display, and the reason of a deny), a subject's
// whole entitlement, and explanations by name (and by id). Asked over the bundled policy for
// every tier and several add-on sets, and compared with `queryJson`'s answers.

const test = require('node:test');
const assert = require('node:assert/strict');
const { join } = require('node:path');

const { Engine, UnknownNameError } = require('..');

const RTC = join(__dirname, '..', '..', '..', 'policies', 'rtc-sdk.policy');
const engine = Engine.fromPath(RTC);
const NOW = 1_795_255_200; // 2026-11-21T10:00:00Z, inside launch_promo's validity
const LATER = 1_798_761_599; // 2026-12-31T23:59:59Z, after it

const TIERS = ['free', 'pro', 'enterprise', 'acme_contract', 'nope'];
const ADDON_SETS = [[], ['ai_pack'], ['launch_promo'], ['ai_pack', 'launch_promo'], ['vip'], Array(33).fill('ai_pack')];
const USAGE = { api_calls_per_day: 1_100_000, storage: 2 ** 40, ai_minutes: 900, group_size: 150, ai_credits: 5_500 };

function* subjects() {
  for (const tier of TIERS) {
    for (const addons of ADDON_SETS) {
      for (const [key, now] of [['app-42', NOW], ['app-7', LATER]]) yield { tier, addons, key, now };
    }
  }
}

/** The JSON answer to a query about `subject`, with `fields` added. */
function ask(subject, fields) {
  return JSON.parse(engine.queryJson(JSON.stringify({ ...subject, ...fields })));
}

/** A typed quota in the JSON shape, windows as the protocol writes them (RFC 3339). */
function quotaJson(q) {
  const instant = (s) => new Date(s * 1000).toISOString().replace('.000Z', 'Z');
  return {
    allowed: q.allowed,
    reason: q.reason,
    status: q.status,
    limit: q.limit,
    soft_cap: q.softCap,
    remaining: q.remaining,
    ...(q.window
      ? { window: { start: instant(q.window.start), end: instant(q.window.end), ...(q.window.rolling ? { rolling: true } : {}) } }
      : {}),
  };
}

/** A typed setting answer in the JSON shape: the value and display, or the deny. */
function settingJson(request, name) {
  try {
    const value = engine.settingValue(request, name);
    return value === null ? { value: null, display: null } : { value: value.value, display: value.display };
  } catch (error) {
    assert.ok(error instanceof UnknownNameError, String(error));
    return { allowed: false, reason: error.reason };
  }
}

const FEATURES = ['hd_video', 'live_effects', 'conversational_ai', 'dedicated_csm', 'message_recall', 'missing'];
const LIMITS = ['api_calls_per_day', 'storage', 'ai_minutes', 'group_size', 'message_retention', 'missing'];
const LIMITS_IN_ORDER = ['concurrent_connections', 'api_calls_per_day', 'api_calls_per_second', 'storage', 'message_retention',
  'group_size', 'ai_minutes', 'ai_minutes_burst', 'ai_credits', 'conversation_minutes', 'transcription_minutes'];
const SETTINGS = ['sla_availability', 'support_response_p0', 'support_channel', 'missing'];

test('features, limits and settings answer as the JSON protocol does', () => {
  for (const subject of subjects()) {
    const request = engine.request({ ...subject });
    for (const feature of FEATURES) {
      assert.deepEqual({ ...engine.decide(request, feature) }, ask(subject, { feature }), `${JSON.stringify(subject)} ${feature}`);
    }
    for (const limit of LIMITS) {
      const used = USAGE[limit] ?? 3;
      const answer = ask(subject, { limit, used, requested: 7 });
      assert.deepEqual(quotaJson(engine.checkLimit(request, limit, used, 7)), answer, `${JSON.stringify(subject)} ${limit}`);
    }
    for (const setting of SETTINGS) {
      assert.deepEqual(settingJson(request, setting), ask(subject, { setting }), `${JSON.stringify(subject)} ${setting}`);
    }
  }
});

test('a setting answers with its kind as the policy declares it, and its display text', () => {
  const pro = engine.request({ tier: 'pro', now: NOW });
  assert.deepEqual(engine.settingValue(pro, 'sla_availability'), { kind: 'percent', value: 999_000, display: '99.9%' });
  assert.deepEqual(engine.settingValue(pro, 'support_response_p0'), { kind: 'duration', value: 7_200, display: '2 h' });
  assert.deepEqual(engine.settingValue(pro, 'support_channel'), { kind: 'string', value: 'email', display: '"email"' });
  assert.equal(engine.settingValue(engine.request({ tier: 'free', now: NOW }), 'sla_availability'), null);
  for (const [options, setting, reason] of [
    [{ tier: 'nope', now: NOW }, 'support_channel', 'unknown_tier'],
    [{ tier: 'pro', addons: ['vip'], now: NOW }, 'support_channel', 'unknown_addon'],
    [{ tier: 'pro', now: NOW }, 'missing', 'unknown_setting'],
  ]) {
    assert.throws(
      () => engine.settingValue(engine.request(options), setting),
      (e) => e instanceof UnknownNameError && e.reason === reason && e.message.includes(`\`${setting}\``),
    );
  }
});

test('entitlements(request, usage) equal the JSON protocol\'s entitlements answer', () => {
  for (const subject of subjects()) {
    const all = engine.entitlements(engine.request({ ...subject }), USAGE);
    const map = (object, shape) => Object.fromEntries(Object.entries(object).map(([name, answer]) => [name, shape(answer)]));
    // A limit that draws on a pool adds what `checkDraw` says: its pool, the cost of nothing,
    // what is left in its own units.
    const request = engine.request({ ...subject });
    const limits = Object.fromEntries(Object.entries(all.limits).map(([name, q]) => {
      const pool = engine.pool(name);
      if (pool === null) return [name, quotaJson(q)];
      const draw = engine.checkDraw(request, name, USAGE[pool] ?? 0, 0);
      return [name, { ...quotaJson(q), pool: draw.pool, cost: draw.cost, remaining_units: draw.remainingUnits }];
    }));
    const typed = {
      features: map(all.features, (d) => ({ ...d })),
      limits,
      settings: map(all.settings, (v) => {
        if (v === null) return { value: null, display: null };
        return 'reason' in v ? { ...v } : { value: v.value, display: v.display };
      }),
    };
    assert.deepEqual(typed, ask(subject, { entitlements: true, usage: USAGE }), JSON.stringify(subject));
    // The typed answer lists names in declaration order (the JSON object's keys are sorted).
    assert.deepEqual(Object.keys(all.limits), LIMITS_IN_ORDER);
  }
  assert.equal(ask({ tier: 'pro', now: NOW }, { entitlements: true, usage: { nope: 1 } }).code, 'unknown_usage');
  assert.throws(() => engine.entitlements(engine.request({ tier: 'pro', now: NOW }), { nope: 1 }), (e) => e.reason === 'unknown_limit');
});

test('explanations by name and by id equal the JSON protocol\'s `explain: true` answer', () => {
  let explained = 0;
  for (const subject of subjects()) {
    const request = engine.request({ ...subject });
    for (const feature of FEATURES) {
      const typed = engine.explainFeature(request, feature);
      const { explain, ...answer } = ask(subject, { feature, explain: true });
      assert.deepEqual(typed.answer, answer, `${JSON.stringify(subject)} ${feature}`);
      // The protocol leaves the explanation out where nothing was asked (an unknown name).
      assert.deepEqual(typed.explain, explain ?? { steps: [], upgrade: null }, `${JSON.stringify(subject)} ${feature}`);
      if (explain) explained += 1;
      const id = engine.feature(feature);
      if (id !== null) assert.deepEqual(engine.explainFeature(request, id), typed);
    }
    for (const limit of LIMITS) {
      const used = USAGE[limit] ?? 3;
      const typed = engine.explainLimit(request, limit, used, 7);
      const { explain, ...answer } = ask(subject, { limit, used, requested: 7, explain: true });
      assert.deepEqual(typed.answer, answer, `${JSON.stringify(subject)} ${limit}`);
      assert.deepEqual(typed.explain, explain ?? { steps: [], upgrade: null }, `${JSON.stringify(subject)} ${limit}`);
      if (explain) explained += 1;
      const id = engine.limit(limit);
      if (id !== null) assert.deepEqual(engine.explainLimit(request, id, used, 7), typed);
    }
  }
  assert.ok(explained > 100, `only ${explained} answers came with an explanation`);
  // An explanation says what would change a deny.
  const free = engine.request({ tier: 'free', now: NOW });
  assert.deepEqual(engine.explainFeature(free, 'e2e_encryption').explain.upgrade, { tier: 'pro' });
});
