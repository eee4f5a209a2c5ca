'use strict';
// Per-customer override sets: checked against an engine from JSON Lines text or a file, every
// problem a `PolicyError` at its record's line; given to `engine.request` and `queryJson`, and
// applied by every question (single, batch, whole entitlement, explanation, JSON); a set
// checked against another policy answers `overrides_not_for_engine`; every argument of the new
// calls is type-checked; and `index.d.ts` declares what the class has.

const test = require('node:test');
const assert = require('node:assert/strict');
const { mkdtempSync, readFileSync, rmSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

const { Engine, Overrides, EntitleError, PolicyError, UnknownNameError, UNLIMITED } = require('..');

const REPOSITORY = join(__dirname, '..', '..', '..');
const NOW = 1_797_328_800; // 2026-12-15T10:00:00Z

const POLICY = `policy "deals"
feature sso
feature hd_video
limit api_calls : count per day
limit storage : bytes
limit ai_minutes : count per month
setting sla : percent
setting region : string
tier free {
    limit api_calls = 10_000
    limit storage = 5 GiB
    set region = "us"
}
tier pro extends free {
    grant hd_video
    limit api_calls = 1_000_000 soft 1_200_000 warn at 80%
    set sla = 99.9%
}
tier team extends pro {
    limit ai_minutes = 1_000 per seat
}
addon storage_pack for free {
    limit storage += 50 GiB
    max 10
}
`;

const RECORDS = `# acme: a launch deal, and SSO for December.
{"subject":"acme","limit":"api_calls","op":"=","value":"2_000_000","until":"2027-03-01T00:00:00Z","reason":"launch deal","author":"sales@example.com"}
{"subject":"acme","feature":"sso","op":"grant","from":"2026-12-01T00:00:00Z","until":"2027-01-01T00:00:00Z"}
{"subject":"globex","feature":"hd_video","op":"revoke","reason":"abuse"}
{"subject":"initech","limit":"storage","op":"at_least","value":"100 GiB"}
{"subject":"hooli","limit":"ai_minutes","op":"=","value":2000,"per_seat":true}
{"subject":"hooli","setting":"sla","op":"=","value":"99.99%"}
{"subject":"wayne","limit":"api_calls","op":"=","value":"unlimited"}
`;

const engine = Engine.fromSource(POLICY, 'deals.policy');
const overrides = Overrides.fromJsonl(engine, RECORDS, 'deals.jsonl');

test('a set reports its size, subjects, policy and name', () => {
  assert.equal(overrides.size, 7);
  assert.equal(overrides.subjectCount, 5);
  assert.deepEqual(overrides.subjects(), ['acme', 'globex', 'hooli', 'initech', 'wayne']);
  assert.equal(overrides.policyHash, engine.policyHash);
  assert.equal(overrides.name, 'deals.jsonl');
  assert.equal(Overrides.fromJsonl(engine, '').name, '<overrides>');
  assert.equal(Overrides.fromJsonl(engine, '# nothing yet\n\n').size, 0);
  assert.ok(Object.isFrozen(overrides));
  assert.throws(() => new Overrides(), /load Overrides with Overrides.fromJsonl or fromPath/);
});

test('records list a subject\'s changes with their terms', () => {
  // Features first: the set keeps a subject's records by what they change, then by start.
  const [sso, deal] = overrides.records('acme');
  assert.deepEqual(deal, {
    subject: 'acme',
    op: '=',
    feature: null,
    limit: 'api_calls',
    setting: null,
    value: 2_000_000,
    perSeat: false,
    from: null,
    until: 1_803_859_200,
    reason: 'launch deal',
    author: 'sales@example.com',
    line: 2,
  });
  assert.deepEqual([sso.feature, sso.op, sso.value, sso.from, sso.until, sso.line], ['sso', 'grant', null, 1_796_083_200, 1_798_761_600, 3]);
  const [revoke] = overrides.records('globex');
  assert.deepEqual([revoke.feature, revoke.op, revoke.reason, revoke.author], ['hd_video', 'revoke', 'abuse', '']);
  const [minutes, sla] = overrides.records('hooli');
  assert.deepEqual([minutes.limit, minutes.value, minutes.perSeat], ['ai_minutes', 2000, true]);
  assert.deepEqual([sla.setting, sla.op, sla.value], ['sla', '=', { kind: 'percent', value: 999_900, display: '99.99%' }]);
  assert.equal(overrides.records('wayne')[0].value, UNLIMITED);
  assert.deepEqual(overrides.records('nobody'), []);
  assert.ok(Object.isFrozen(overrides.records('acme')) && Object.isFrozen(deal));
});

test('a grant, a revoke, a limit and a setting apply to their subject only', () => {
  const acme = engine.request({ tier: 'free', key: 'acme', now: NOW, overrides });
  assert.equal(acme.overrides, overrides);
  assert.deepEqual(engine.decide(acme, 'sso'), { allowed: true, reason: 'granted_by_override' });
  assert.equal(engine.isAllowed(acme, 'sso'), true);
  assert.equal(engine.isAllowed(acme, engine.feature('sso')), true);
  const other = engine.request({ tier: 'free', key: 'other', now: NOW, overrides });
  assert.deepEqual(engine.decide(other, 'sso'), { allowed: false, reason: 'not_granted' });
  // The grant ends at its `until`.
  assert.equal(engine.decide(engine.request({ tier: 'free', key: 'acme', now: 1_798_761_600, overrides }), 'sso').reason, 'not_granted');

  const globex = engine.request({ tier: 'pro', key: 'globex', now: NOW, overrides });
  assert.deepEqual(engine.decide(globex, 'hd_video'), { allowed: false, reason: 'revoked_by_override' });
  assert.equal(engine.isAllowed(globex, 'hd_video'), false);
  assert.equal(engine.decide(engine.request({ tier: 'pro', key: 'globex', now: NOW }), 'hd_video').reason, 'granted_by_tier');

  const quota = engine.checkLimit(engine.request({ tier: 'pro', key: 'acme', now: NOW, overrides }), 'api_calls', 1_600_000);
  assert.deepEqual([quota.limit, quota.softCap, quota.status, quota.overridden], [2_000_000, 2_200_000, 'warning', true]);
  // Without the set the same use is past the plan's soft cap.
  const plan = engine.checkLimit(engine.request({ tier: 'pro', key: 'acme', now: NOW }), 'api_calls', 1_600_000);
  assert.deepEqual([plan.limit, plan.reason, plan.overridden], [1_000_000, 'limit_exceeded', false]);

  const initech = engine.request({ tier: 'free', key: 'initech', addons: ['storage_pack'], now: NOW, overrides });
  assert.equal(engine.checkLimit(initech, 'storage').limit, 100 * 2 ** 30);
  const wayne = engine.checkLimit(engine.request({ tier: 'pro', key: 'wayne', now: NOW, overrides }), 'api_calls', 10 ** 9);
  assert.deepEqual([wayne.limit, wayne.remaining, wayne.allowed], [UNLIMITED, UNLIMITED, true]);

  const hooli = engine.request({ tier: 'team', key: 'hooli', seats: 10, now: NOW, overrides });
  const minutes = engine.checkLimit(hooli, 'ai_minutes');
  assert.deepEqual([minutes.limit, minutes.seats, minutes.overridden], [20_000, 10, true]);
  assert.deepEqual(engine.settingValue(hooli, 'sla'), { kind: 'percent', value: 999_900, display: '99.99%' });
  assert.equal(engine.settingValue(engine.request({ tier: 'team', key: 'x', now: NOW, overrides }), 'sla').display, '99.9%');
});

test('a request the plan refuses stays refused', () => {
  assert.equal(engine.decide(engine.request({ tier: 'gold', key: 'acme', now: NOW, overrides }), 'sso').reason, 'unknown_tier');
  const twice = engine.request({ tier: 'free', key: 'initech', addons: ['storage_pack', 'storage_pack'], now: NOW, overrides });
  assert.equal(engine.checkLimit(twice, 'storage').reason, 'duplicate_addon');
});

test('the batch calls, entitlements and explanations apply the set', () => {
  const acme = engine.request({ tier: 'pro', key: 'acme', now: NOW, overrides });
  assert.deepEqual(engine.isAllowedMany(acme, ['sso', 'hd_video']), [true, true]);
  assert.deepEqual(engine.decideMany(acme, ['sso', engine.feature('hd_video')]).map((d) => d.reason), ['granted_by_override', 'granted_by_tier']);
  const [calls, storage] = engine.checkLimitMany(acme, ['api_calls', 'storage'], [10, 0]);
  assert.deepEqual([calls.limit, calls.overridden, storage.overridden], [2_000_000, true, false]);

  const all = engine.entitlements(acme, { api_calls: 10 });
  assert.equal(all.features.sso.reason, 'granted_by_override');
  assert.deepEqual(all.limits.api_calls, calls);
  const hooli = engine.entitlements(engine.request({ tier: 'team', key: 'hooli', seats: 2, now: NOW, overrides }));
  assert.equal(hooli.settings.sla.display, '99.99%');
  assert.equal(hooli.limits.ai_minutes.limit, 4_000);

  const why = engine.explainLimit(acme, 'api_calls', 10);
  assert.equal(why.answer.limit, 2_000_000);
  assert.equal(why.answer.overridden, true);
  assert.ok(why.explain.steps.some((s) => s.rule.includes('override for subject `acme`') && s.rule.includes('reason "launch deal"')), JSON.stringify(why));
  assert.deepEqual(engine.explainFeature(acme, 'sso').answer, { allowed: true, reason: 'granted_by_override' });
});

test('queryJson applies the set to the query\'s key', () => {
  const line = JSON.stringify({ tier: 'free', key: 'acme', now: NOW, feature: 'sso' });
  assert.deepEqual(JSON.parse(engine.queryJson(line, overrides)), { allowed: true, reason: 'granted_by_override' });
  assert.deepEqual(JSON.parse(engine.queryJson(line)), { allowed: false, reason: 'not_granted' });
  assert.deepEqual(JSON.parse(engine.queryJson(line, null)), { allowed: false, reason: 'not_granted' });
  const limit = JSON.parse(engine.queryJson(JSON.stringify({ tier: 'pro', key: 'acme', now: NOW, limit: 'api_calls' }), overrides));
  assert.deepEqual([limit.limit, limit.overridden], [2_000_000, true]);
});

test('a set for another policy answers overrides_not_for_engine', () => {
  // The same names, another policy: the ids line up, the hash does not.
  const other = Engine.fromSource(`${POLICY}\nfeature extra\n`, 'other.policy');
  assert.notEqual(other.policyHash, overrides.policyHash);
  const denied = 'overrides_not_for_engine';
  const acme = other.request({ tier: 'pro', key: 'acme', now: NOW, overrides });
  assert.deepEqual(other.decide(acme, 'sso'), { allowed: false, reason: denied });
  assert.equal(other.decide(acme, 'hd_video').reason, denied);
  assert.equal(other.isAllowed(acme, 'hd_video'), false);
  assert.deepEqual(other.isAllowedMany(acme, ['hd_video']), [false]);
  assert.deepEqual(other.decideMany(acme, ['hd_video']), [{ allowed: false, reason: denied }]);
  const quota = other.checkLimit(acme, 'api_calls');
  assert.deepEqual([quota.allowed, quota.reason], [false, denied]);
  assert.equal(other.checkLimitMany(acme, ['api_calls'])[0].reason, denied);
  assert.equal(other.entitlements(acme).features.hd_video.reason, denied);
  assert.throws(() => other.settingValue(acme, 'sla'), (e) => e instanceof UnknownNameError && e.reason === denied);
  const line = JSON.stringify({ tier: 'pro', key: 'acme', now: NOW, feature: 'hd_video' });
  assert.equal(JSON.parse(other.queryJson(line, overrides)).reason, denied);
  // A subject without records in the set answers from the plan, the set unread.
  assert.equal(other.decide(other.request({ tier: 'pro', key: 'nobody', now: NOW, overrides }), 'hd_video').reason, 'granted_by_tier');
});

test('a bad record throws PolicyError at its line', () => {
  const text = '# a comment\n{"subject":"acme","feature":"sso","op":"grant"}\n{"subject":"acme","limit":"cals","op":"=","value":5}\n';
  assert.throws(
    () => Overrides.fromJsonl(engine, text, 'bad.jsonl'),
    (error) => {
      assert.ok(error instanceof PolicyError && error instanceof EntitleError);
      assert.equal(error.code, 'policy');
      assert.match(error.message, /^bad\.jsonl:3:\d+: error\[E005\]: unknown limit `cals`$/);
      assert.equal(error.diagnostics.length, 1);
      const [d] = error.diagnostics;
      assert.deepEqual([d.file, d.line, d.code, d.severity, d.endLine], ['bad.jsonl', 3, 'E005', 'error', 3]);
      assert.ok(d.endColumn > d.column);
      return true;
    },
  );
  const many = '{"subject":"acme","feature":"ssso","op":"grant"}\nnot json\n{"subject":"acme","limit":"storage","op":"=","value":"3 hours"}\n';
  assert.throws(
    () => Overrides.fromJsonl(engine, many),
    (error) => {
      assert.deepEqual(error.diagnostics.map((d) => d.line), [1, 2, 3]);
      assert.ok(error.diagnostics.every((d) => d.file === '<overrides>'));
      assert.match(error.message, /\(and 2 more errors\)$/);
      return true;
    },
  );
});

test('a set loads from a path', () => {
  const dir = mkdtempSync(join(tmpdir(), 'entitle-node-overrides-'));
  try {
    const path = join(dir, 'deals.jsonl');
    writeFileSync(path, RECORDS);
    const loaded = Overrides.fromPath(engine, path);
    assert.deepEqual([loaded.size, loaded.name], [7, path]);
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, '{"subject":"acme","feature":"sso","op":"grant"}\n{"subject":"acme","feature":"sso","op":"gift"}\n');
    assert.throws(() => Overrides.fromPath(engine, bad), (e) => e instanceof PolicyError && e.message.startsWith(`${bad}:2:`) && e.diagnostics[0].line === 2);
    assert.throws(
      () => Overrides.fromPath(engine, join(dir, 'missing.jsonl')),
      (e) => e instanceof EntitleError && !(e instanceof PolicyError) && e.code === 'io',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const corpus = join(REPOSITORY, 'tests', 'conformance');
  const policy = Engine.fromPath(join(corpus, 'overrides.policy'));
  const set = Overrides.fromPath(policy, join(corpus, 'overrides.overrides'));
  assert.ok(set.size > 0);
  assert.equal(set.policyHash, policy.policyHash);
});

test('every argument of the override calls is type-checked', () => {
  for (const value of [null, undefined, 'deals.policy', 3, {}]) {
    assert.throws(() => Overrides.fromJsonl(value, ''), { name: 'TypeError', message: /`engine` must be an Engine, not/ });
    assert.throws(() => Overrides.fromPath(value, 'deals.jsonl'), { name: 'TypeError', message: /`engine` must be an Engine, not/ });
  }
  for (const value of [undefined, null, 3, Buffer.from('{}'), ['{}']]) {
    assert.throws(() => Overrides.fromJsonl(engine, value), { name: 'TypeError', message: /`text` must be JSON Lines override records \(a string\), not/ });
  }
  assert.throws(() => Overrides.fromJsonl(engine, '', 3), { name: 'TypeError', message: /`name` must be a string, not number 3/ });
  assert.throws(() => Overrides.fromPath(engine, 3), { name: 'TypeError', message: /`path` must be a path \(a string\), not number 3/ });
  assert.throws(() => overrides.records(null), { name: 'TypeError', message: /`key` must be a subject key \(a string\), not null/ });
  for (const value of [RECORDS, {}, [], 1, true]) {
    assert.throws(() => engine.request({ tier: 'pro', key: 'acme', now: NOW, overrides: value }), {
      name: 'TypeError',
      message: /`overrides` must be an Overrides \(or null\), not/,
    });
    assert.throws(() => engine.queryJson('{}', value), { name: 'TypeError', message: /`overrides` must be an Overrides \(or null\), not/ });
  }
  assert.equal(engine.request({ tier: 'pro', now: NOW, overrides: null }).overrides, null);
  assert.equal(engine.request({ tier: 'pro', now: NOW }).overrides, null);
});

test('index.d.ts declares what Overrides has', () => {
  const declarations = readFileSync(join(__dirname, '..', 'index.d.ts'), 'utf8');
  const start = declarations.indexOf('export declare class Overrides');
  const body = declarations.slice(start, declarations.indexOf('\n}\n', start));
  const methods = [...body.matchAll(/^ {2}(?:static )?(\w+)\(/gm)].map((m) => m[1]).filter((m) => m !== 'constructor');
  assert.deepEqual(methods.sort(), ['fromJsonl', 'fromPath', 'records', 'subjects']);
  for (const method of methods) {
    assert.ok(typeof Overrides[method] === 'function' || typeof Overrides.prototype[method] === 'function', method);
  }
  for (const getter of ['size', 'subjectCount', 'policyHash', 'name']) {
    assert.match(body, new RegExp(`readonly ${getter}: `), getter);
    assert.equal(typeof Object.getOwnPropertyDescriptor(Overrides.prototype, getter).get, 'function', getter);
  }
  for (const reason of ['granted_by_override', 'revoked_by_override', 'overrides_not_for_engine']) {
    assert.match(declarations, new RegExp(`\\| '${reason}'`), reason);
  }
});
