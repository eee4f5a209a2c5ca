'use strict';
// The package's API: loading and its errors, ids, requests and their ownership, every
// question, the types each parameter takes, and the declarations in `index.d.ts`.

const test = require('node:test');
const assert = require('node:assert/strict');
const { readFileSync } = require('node:fs');
const { join } = require('node:path');

const entitle = require('..');
const { Engine, Request, EntitleError, PolicyError, UnknownNameError, UNLIMITED } = entitle;

const REPOSITORY = join(__dirname, '..', '..', '..');
const RTC = join(REPOSITORY, 'policies', 'rtc-sdk.policy');
const NOW = 1_795_255_200; // 2026-11-21T10:00:00Z

const POLICY = `policy "p" version "1"

feature hd "HD video"
feature chat
limit calls : count per day
limit bytes : bytes
limit seats : count
setting sla : percent prefer higher
setting channel : string
setting huge : number prefer higher

tier free {
    grant chat
    limit calls = 100 warn at 90%
    set channel = "forum"
}

tier pro extends free {
    grant hd
    limit calls = 1_000 soft 1_200
    limit bytes = unlimited
    limit seats = 18_446_744_073_709_551_614
    set sla = 99.9%
    set huge = 18_446_744_073_709_551_615
}

addon boost for free {
    grant hd
    limit calls += 50
}
`;

const engine = Engine.fromSource(POLICY, 'p.policy');

test('a policy loads from a path, from source and from a bundle', () => {
  const rtc = Engine.fromPath(RTC);
  assert.match(rtc.policyHash, /^[0-9a-f]{64}$/);
  assert.equal(rtc.isAllowed(rtc.request({ tier: 'pro', now: NOW }), 'hd_video'), true);
  assert.equal(engine.isAllowed(engine.request({ tier: 'pro', now: NOW }), 'hd'), true);
  const bundlePath = process.env.ENTITLE_TEST_BUNDLE;
  if (bundlePath) {
    const bundled = Engine.fromBundle(readFileSync(bundlePath));
    assert.equal(bundled.policyHash, rtc.policyHash);
    assert.equal(Engine.fromPath(bundlePath).policyHash, rtc.policyHash);
    assert.equal(bundled.isAllowed(bundled.request({ tier: 'pro', now: NOW }), 'hd_video'), true);
  }
});

test('a policy that does not check throws PolicyError with every diagnostic', () => {
  const bad = 'policy "p"\ntier free { grant sso }\ntier pro { grant vid }\n';
  assert.throws(
    () => Engine.fromSource(bad, 'bad.policy'),
    (error) => {
      assert.ok(error instanceof PolicyError && error instanceof EntitleError && error instanceof Error);
      assert.equal(error.code, 'policy');
      assert.match(error.message, /^bad\.policy:2:19: error\[E004\]: unknown feature `sso`/);
      assert.equal(error.diagnostics.length, 2);
      const [first, second] = error.diagnostics;
      assert.deepEqual(
        { code: first.code, severity: first.severity, line: first.line, column: first.column, file: first.file },
        { code: 'E004', severity: 'error', line: 2, column: 19, file: 'bad.policy' },
      );
      assert.equal(first.message, 'unknown feature `sso`');
      assert.equal(second.line, 3);
      assert.ok(Object.isFrozen(error.diagnostics) && Object.isFrozen(first));
      return true;
    },
  );
  assert.throws(() => Engine.fromSource('policy "p"\ntier free { grant sso }\n'), (e) => e instanceof PolicyError && e.diagnostics[0].file === '<string>');
});

test('a file that cannot be read and a corrupt bundle are EntitleErrors, not PolicyErrors', () => {
  assert.throws(
    () => Engine.fromPath(join(REPOSITORY, 'no-such.policy')),
    (e) => e instanceof EntitleError && !(e instanceof PolicyError) && e.code === 'io' && /no-such\.policy/.test(e.message),
  );
  assert.throws(() => Engine.fromBundle(Buffer.from('not a bundle')), (e) => e instanceof EntitleError && e.code === 'bundle');
  assert.throws(() => Engine.fromBundle(new Uint8Array(3)), (e) => e instanceof EntitleError && e.code === 'bundle');
});

test('ids are numbers or null, and answer as the names do', () => {
  for (const kind of ['tier', 'feature', 'limit', 'addon', 'setting']) {
    assert.equal(engine[kind]('nope'), null, kind);
  }
  const pro = engine.tier('pro');
  const hd = engine.feature('hd');
  assert.equal(typeof pro, 'number');
  const byId = engine.request({ tier: pro, now: NOW });
  const byName = engine.request({ tier: 'pro', now: NOW });
  assert.equal(engine.isAllowed(byId, hd), true);
  assert.deepEqual(engine.decide(byId, hd), engine.decide(byName, 'hd'));
  assert.deepEqual(engine.checkLimit(byId, engine.limit('calls'), 5), engine.checkLimit(byName, 'calls', 5));
  assert.deepEqual(engine.settingValue(byId, engine.setting('sla')), engine.settingValue(byName, 'sla'));
  const boost = engine.addon('boost');
  const free = engine.request({ tier: 'free', addons: [boost], now: NOW });
  assert.deepEqual(engine.decide(free, 'hd'), { allowed: true, reason: 'granted_by_addon' });
});

test('decide, checkLimit, settingValue and the batch answer', () => {
  const pro = engine.request({ tier: 'pro', key: 'app-42', now: NOW });
  const free = engine.request({ tier: 'free', now: new Date(NOW * 1000 + 999) });
  assert.equal(free.now, NOW);
  assert.deepEqual(engine.decide(free, 'hd'), { allowed: false, reason: 'not_granted' });
  assert.deepEqual(engine.decide(free, 'nope'), { allowed: false, reason: 'unknown_feature' });
  assert.ok(Object.isFrozen(engine.decide(free, 'hd')));
  assert.deepEqual(engine.checkLimit(pro, 'calls', 1_100, 50), {
    allowed: true,
    reason: 'overage',
    status: 'overage',
    limit: 1000,
    softCap: 1200,
    remaining: 0,
    seats: null,
    window: { start: 1_795_219_200, end: 1_795_305_600, rolling: false },
    overridden: false,
  });
  assert.deepEqual(engine.checkLimit(free, 'calls', 95), {
    allowed: true,
    reason: 'within_limit',
    status: 'warning',
    limit: 100,
    softCap: null,
    remaining: 5,
    seats: null,
    window: { start: 1_795_219_200, end: 1_795_305_600, rolling: false },
    overridden: false,
  });
  const bytes = engine.checkLimit(pro, 'bytes', 2n ** 64n - 1n, 1);
  assert.equal(bytes.limit, UNLIMITED);
  assert.equal(bytes.remaining, UNLIMITED);
  assert.equal(bytes.window, null);
  // Amounts past 2^53 are bigints, exact both ways; amounts up to it stay numbers.
  // (The largest finite limit is 2^64 − 2: the engine keeps 2^64 − 1 for `unlimited`.)
  const seats = engine.checkLimit(pro, 'seats', 2n ** 53n + 1n);
  assert.equal(seats.limit, 2n ** 64n - 2n);
  assert.equal(seats.remaining, 2n ** 64n - 2n - (2n ** 53n + 1n));
  assert.equal(engine.checkLimit(pro, 'seats', 2n ** 64n - 2n - BigInt(Number.MAX_SAFE_INTEGER)).remaining, Number.MAX_SAFE_INTEGER);
  assert.equal(engine.checkLimit(pro, 'seats', 2n ** 64n - 1n).remaining, 0);
  assert.equal(engine.checkLimit(free, 'bytes').reason, 'limit_not_set');
  assert.equal(engine.checkLimit(free, 'nope').reason, 'unknown_limit');
  assert.deepEqual(engine.settingValue(pro, 'sla'), { kind: 'percent', value: 999_000, display: '99.9%' });
  assert.deepEqual(engine.settingValue(free, 'channel'), { kind: 'string', value: 'forum', display: '"forum"' });
  assert.equal(engine.settingValue(free, 'sla'), null);
  // A u64 past 2^53 is a bigint, exact.
  assert.equal(engine.settingValue(pro, 'huge').value, 18_446_744_073_709_551_615n);
  assert.throws(() => engine.settingValue(free, 'nope'), (e) => e instanceof UnknownNameError && e.reason === 'unknown_setting');
  const many = engine.isAllowedMany(pro, ['hd', 'chat', 'nope', engine.feature('hd')]);
  assert.deepEqual(many, [true, true, false, true]);
  assert.deepEqual(engine.isAllowedMany(pro, []), []);
  const stranger = engine.request({ tier: 'gold', now: NOW });
  assert.deepEqual(engine.isAllowedMany(stranger, ['hd', 'chat']), [false, false]);
  const quotas = engine.checkLimitMany(pro, ['calls', engine.limit('seats'), 'nope', 'bytes'], [1_100, 2n ** 60n, 0, 0]);
  assert.deepEqual(quotas, [
    engine.checkLimit(pro, 'calls', 1_100),
    engine.checkLimit(pro, 'seats', 2n ** 60n),
    engine.checkLimit(pro, 'nope'),
    engine.checkLimit(pro, 'bytes'),
  ]);
  assert.deepEqual(engine.checkLimitMany(pro, []), []);
  assert.equal(engine.checkLimitMany(stranger, ['calls'])[0].reason, 'unknown_tier');
  assert.throws(() => engine.checkLimitMany(pro, ['calls'], [1, 2]), RangeError);
  assert.throws(() => engine.checkLimitMany(pro, ['calls', 'seats'], [1]), RangeError);
  assert.throws(() => engine.checkLimitMany(pro, 'calls'), (e) => e instanceof TypeError && /`limits`/.test(e.message));
  assert.throws(() => engine.checkLimitMany(pro, ['calls'], [-1]), (e) => e instanceof TypeError && /`used\[0\]`/.test(e.message));
});

test('entitlements answer every feature, limit and setting by name, as the single calls do', () => {
  const pro = engine.request({ tier: 'pro', now: NOW });
  const all = engine.entitlements(pro, { calls: 1_100, seats: 2n ** 60n });
  assert.deepEqual(Object.keys(all.features), ['hd', 'chat']);
  assert.deepEqual(all.features.hd, engine.decide(pro, 'hd'));
  assert.deepEqual(all.limits.calls, engine.checkLimit(pro, 'calls', 1_100));
  assert.deepEqual(all.limits.seats, engine.checkLimit(pro, 'seats', 2n ** 60n));
  assert.deepEqual(all.limits.bytes, engine.checkLimit(pro, 'bytes'));
  assert.deepEqual(all.settings.sla, engine.settingValue(pro, 'sla'));
  assert.equal(engine.entitlements(engine.request({ tier: 'free', now: NOW })).settings.sla, null);
  assert.ok(Object.isFrozen(all) && Object.isFrozen(all.limits));
  assert.throws(() => engine.entitlements(pro, { nope: 1 }), (e) => e instanceof UnknownNameError && e.reason === 'unknown_limit');
  const stranger = engine.entitlements(engine.request({ tier: 'gold', now: NOW }));
  assert.deepEqual(stranger.features.hd, { allowed: false, reason: 'unknown_tier' });
  assert.equal(stranger.limits.calls.reason, 'unknown_tier');
  assert.deepEqual(stranger.settings.sla, { allowed: false, reason: 'unknown_tier' });
  assert.throws(() => engine.entitlements(pro, []), (e) => e instanceof TypeError && /`usage`/.test(e.message));
  assert.throws(() => engine.entitlements(pro, { calls: -1 }), (e) => e instanceof TypeError && /`usage.calls`/.test(e.message));
});

test('explanations take names and ids, and say what would change the answer', () => {
  const free = engine.request({ tier: 'free', now: NOW });
  const why = engine.explainFeature(free, 'hd');
  assert.deepEqual(why.answer, { allowed: false, reason: 'not_granted' });
  assert.ok(Array.isArray(why.explain.steps));
  assert.deepEqual(engine.explainFeature(free, engine.feature('hd')), why);
  assert.ok(why.explain.upgrade !== null, JSON.stringify(why));
  const quota = engine.explainLimit(free, 'calls', 99, 5);
  assert.equal(quota.answer.status, 'exceeded');
  assert.ok(quota.explain.steps.length > 0);
  assert.equal(engine.explainFeature(free, 'nope').answer.reason, 'unknown_feature');
});

test('unknown tiers, unknown add-ons, too many add-ons and an add-on held twice deny every kind of question alike', () => {
  const cases = [
    [{ tier: 'free', addons: ['boost', 'boost'], now: NOW }, 'duplicate_addon'],
    [{ tier: 'free', addons: [engine.addon('boost'), 'boost'], now: NOW }, 'duplicate_addon'],
    [{ tier: 'free', addons: Array(32).fill('boost'), now: NOW }, 'duplicate_addon'],
    [{ tier: 'gold', now: NOW }, 'unknown_tier'],
    [{ tier: 'free', addons: ['vip'], now: NOW }, 'unknown_addon'],
    [{ tier: 'free', addons: Array(33).fill('boost'), now: NOW }, 'too_many_addons'],
    [{ tier: 'free', addons: Array(33).fill(engine.addon('boost')), now: NOW }, 'too_many_addons'],
  ];
  for (const [options, reason] of cases) {
    const request = engine.request(options);
    assert.equal(engine.isAllowed(request, 'chat'), false, reason);
    assert.equal(engine.isAllowed(request, engine.feature('chat')), false, reason);
    assert.equal(engine.decide(request, 'chat').reason, reason);
    assert.equal(engine.decide(request, engine.feature('chat')).reason, reason);
    assert.equal(engine.checkLimit(request, 'calls').reason, reason);
    assert.throws(() => engine.settingValue(request, 'channel'), (e) => e instanceof UnknownNameError && e.reason === reason);
  }
  const ok = engine.request({ tier: 'free', addons: ['boost'], now: NOW });
  assert.equal(engine.decide(ok, 'hd').reason, 'granted_by_addon');
});

test('ids of another engine are unknown, and requests belong to their engine', () => {
  const other = Engine.fromSource('policy "q"\nfeature zz\nfeature hd\ntier pro { grant hd }\ntier gold { grant zz }\n', 'q.policy');
  const mine = engine.request({ tier: 'pro', now: NOW });
  // An id handed out by the other engine is unknown here, though in range of both.
  assert.equal(engine.decide(mine, other.feature('hd')).reason, 'unknown_feature');
  assert.equal(engine.isAllowed(mine, other.feature('hd')), false);
  assert.equal(engine.decide(engine.request({ tier: other.tier('pro'), now: NOW }), 'hd').reason, 'unknown_tier');
  assert.equal(engine.decide(mine, 0).reason, 'unknown_feature');
  // A request of another engine is refused, not answered with its tier index.
  const theirs = other.request({ tier: 'gold', now: NOW });
  assert.throws(() => engine.isAllowed(theirs, 'hd'), (e) => e instanceof TypeError && /another engine/.test(e.message));
  assert.throws(() => engine.decide(theirs, engine.feature('hd')), TypeError);
  assert.throws(() => engine.checkLimit(theirs, 'calls'), TypeError);
  // The same policy text loaded twice shares its ids, but requests still belong to one.
  const twin = Engine.fromSource(POLICY, 'p.policy');
  assert.equal(twin.feature('hd'), engine.feature('hd'));
  assert.throws(() => twin.isAllowed(mine, 'hd'), TypeError);
});

test('requests are immutable and cannot be made by hand', () => {
  const request = engine.request({ tier: 'free', addons: ['boost'], now: NOW });
  assert.ok(Object.isFrozen(request) && Object.isFrozen(request.addons));
  assert.throws(() => {
    'use strict';
    request.tier = 'pro';
  }, TypeError);
  assert.equal(request.tier, 'free');
  assert.equal(engine.decide(request, 'hd').reason, 'granted_by_addon');
  assert.throws(() => new Request(), TypeError);
  assert.throws(() => new Engine(), TypeError);
  // Changing the array the request was made from changes nothing.
  const addons = ['boost'];
  const held = engine.request({ tier: 'free', addons, now: NOW });
  addons.push('vip');
  assert.equal(engine.decide(held, 'hd').reason, 'granted_by_addon');
});

test('wrong types throw TypeError naming the parameter', () => {
  const request = engine.request({ tier: 'free', now: NOW });
  const wrong = [
    [() => engine.request({ tier: true, now: NOW }), /`tier`/],
    [() => engine.request({ tier: Buffer.from('pro'), now: NOW }), /`tier`/],
    [() => engine.request({ tier: 1.5, now: NOW }), /`tier`/],
    [() => engine.request({ tier: 'free', key: null, now: NOW }), /`key`/],
    [() => engine.request({ tier: 'free', key: 42, now: NOW }), /`key`/],
    [() => engine.request({ tier: 'free', addons: 'boost', now: NOW }), /`addons`/],
    [() => engine.request({ tier: 'free', addons: [null], now: NOW }), /`addons\[0\]`/],
    [() => engine.request({ tier: 'free', billingAnchor: '3', now: NOW }), /`billingAnchor`/],
    [() => engine.request({ tier: 'free', now: 1.5 }), /`now`/],
    [() => engine.request({ tier: 'free', now: -0.5 }), /`now`/],
    [() => engine.request({ tier: 'free', now: '123' }), /`now`/],
    [() => engine.request({ tier: 'free', now: true }), /`now`/],
    [() => engine.request({ tier: 'free', now: new Date('nonsense') }), /`now`/],
    [() => engine.request({ tier: 'free', now: 2 ** 60 }), /`now`/],
    [() => engine.request({ tier: 'free' }), /`now`/],
    [() => engine.request('free'), /`options`/],
    [() => engine.decide(request, true), /`feature`/],
    [() => engine.isAllowed(request, true), /`feature`/],
    [() => engine.isAllowed(request, -1), /`feature`/],
    [() => engine.isAllowed(request, 2 ** 32), /`feature`/],
    [() => engine.isAllowed({ tier: 'free' }, 'hd'), /`request`/],
    [() => engine.isAllowedMany(request, 'hd'), /`features`/],
    [() => engine.isAllowedMany(request, ['hd', false]), /`features\[1\]`/],
    [() => engine.checkLimit(request, 'calls', -1), /`used`/],
    [() => engine.checkLimit(request, 'calls', 1.5), /`used`/],
    [() => engine.checkLimit(request, 'calls', 2 ** 53), /`used`/],
    [() => engine.checkLimit(request, 'calls', 0, '5'), /`requested`/],
    [() => engine.checkLimit(request, 'calls', 2n ** 64n), /`used`/],
    [() => engine.checkLimit(request, null), /`limit`/],
    [() => engine.settingValue(request, {}), /`setting`/],
    [() => engine.explainFeature(request, undefined), /`feature`/],
    [() => engine.explainLimit(request, 'calls', -1n), /`used`/],
    [() => engine.queryJson({ tier: 'free' }), /`line`/],
    [() => engine.feature(1), /`name`/],
    [() => Engine.fromSource(42), /`text`/],
    [() => Engine.fromSource(POLICY, 7), /`name`/],
    [() => Engine.fromPath(null), /`path`/],
    [() => Engine.fromBundle('bytes'), /`bytes`/],
  ];
  for (const [call, parameter] of wrong) {
    assert.throws(call, (e) => e instanceof TypeError && parameter.test(e.message), String(call));
  }
  assert.throws(() => engine.request({ tier: 'free', billingAnchor: 32, now: NOW }), RangeError);
  assert.throws(() => engine.request({ tier: 'free', billingAnchor: 0, now: NOW }), RangeError);
  // An integer id of no engine is a well-typed question: it is answered unknown.
  assert.equal(engine.decide(engine.request({ tier: 4_000_000_000, now: NOW }), 'chat').reason, 'unknown_tier');
});

test('add-ons held in a quantity and since an instant, and a seat count', () => {
  const boost = engine.addon('boost');
  const plain = engine.request({ tier: 'free', addons: ['boost'], now: NOW });
  const forms = [
    [{ addon: 'boost' }],
    [{ addon: boost, quantity: 1 }],
    [{ addon: 'boost', quantity: 1n, acquired: new Date((NOW - 60) * 1000 + 999) }],
    [{ addon: 'boost', acquired: null }],
  ];
  for (const addons of forms) {
    const request = engine.request({ tier: 'free', addons, seats: 4, now: NOW });
    assert.equal(request.seats, 4);
    assert.ok(Object.isFrozen(request.addons[0]));
    assert.deepEqual(engine.decide(request, 'hd'), engine.decide(plain, 'hd'));
    assert.deepEqual(engine.checkLimit(request, 'calls', 5), engine.checkLimit(plain, 'calls', 5));
  }
  // What the request keeps: names as given, objects with their instant in seconds.
  const kept = engine.request({ tier: 'free', addons: ['boost', { addon: 'boost', quantity: 0, acquired: new Date(NOW * 1000 + 500) }], now: NOW });
  assert.deepEqual(kept.addons, ['boost', { addon: 'boost', quantity: 0, acquired: NOW }]);
  assert.equal(kept.seats, null);
  // A quantity of 0 holds nothing; past the maximum (1, as `boost` declares none) is refused.
  const none = engine.request({ tier: 'free', addons: [{ addon: 'boost', quantity: 0 }], now: NOW });
  assert.equal(engine.decide(none, 'hd').reason, 'not_granted');
  const two = engine.request({ tier: 'free', addons: [{ addon: 'boost', quantity: 2 }], now: NOW });
  assert.deepEqual(engine.decide(two, 'hd'), { allowed: false, reason: 'quantity_above_max' });
  assert.equal(engine.isAllowed(two, 'hd'), false);
  assert.equal(engine.checkLimit(two, 'calls').reason, 'quantity_above_max');
  assert.deepEqual(engine.decideMany(two, ['hd', engine.feature('chat')]).map((d) => d.reason), ['quantity_above_max', 'quantity_above_max']);
  assert.throws(() => engine.settingValue(two, 'sla'), (e) => e instanceof UnknownNameError && e.reason === 'quantity_above_max');
  const many = engine.request({ tier: 'free', addons: [{ addon: 'boost', quantity: 2n ** 64n - 1n }], now: NOW });
  assert.equal(engine.decide(many, 'hd').reason, 'quantity_above_max');
  assert.equal(engine.decide(engine.request({ tier: 'free', addons: [{ addon: 'vip', quantity: 0 }], now: NOW }), 'hd').reason, 'unknown_addon');
  // A seat count changes no flat limit, and a quota says seats only when one was used.
  const seated = engine.checkLimit(engine.request({ tier: 'pro', seats: 10n, now: NOW }), 'calls', 4);
  assert.equal(seated.seats, null);
  assert.equal(seated.remaining, 996);
  assert.equal(engine.request({ tier: 'pro', seats: 2n ** 64n - 1n, now: NOW }).seats, 2n ** 64n - 1n);
  assert.equal(engine.request({ tier: 'pro', seats: null, now: NOW }).seats, null);
  const wrong = [
    [{ addons: [{ addon: 'boost', quantity: 1.5 }] }, /`addons\[0\]\.quantity` must be .*, not number 1\.5/],
    [{ addons: ['boost', { addon: 'boost', quantity: -1 }] }, /`addons\[1\]\.quantity`/],
    [{ addons: [{ addon: 'boost', quantity: '2' }] }, /`addons\[0\]\.quantity`/],
    [{ addons: [{ addon: 'boost', quantity: 2n ** 64n }] }, /`addons\[0\]\.quantity`/],
    [{ addons: [{ addon: 'boost', acquired: 1.5 }] }, /`addons\[0\]\.acquired` must be whole Unix seconds/],
    [{ addons: [{ addon: 'boost', acquired: '2026-11-01' }] }, /`addons\[0\]\.acquired`/],
    [{ addons: [{ addon: 'boost', acquired: new Date('nonsense') }] }, /`addons\[0\]\.acquired`/],
    [{ addons: [{ addon: null }] }, /`addons\[0\]\.addon`/],
    [{ addons: [{ quantity: 1 }] }, /`addons\[0\]\.addon`/],
    [{ addons: [{ addon: 'boost', quantiy: 2 }] }, /`addons\[0\]` has the field `quantiy`/],
    [{ addons: [[ 'boost' ]] }, /`addons\[0\]`/],
    [{ seats: 1.5 }, /`seats` must be a seat count/],
    [{ seats: -1 }, /`seats`/],
    [{ seats: '3' }, /`seats`/],
    [{ seats: 2n ** 64n }, /`seats`/],
  ];
  for (const [fields, message] of wrong) {
    assert.throws(() => engine.request({ tier: 'free', now: NOW, ...fields }), (e) => e instanceof TypeError && message.test(e.message), JSON.stringify(fields, (_, v) => (typeof v === 'bigint' ? `${v}n` : v)));
  }
});

test('queryJson answers one line as `entitle eval` does', () => {
  assert.equal(engine.queryJson('{"tier":"pro","now":0,"feature":"hd"}'), '{"allowed":true,"reason":"granted_by_tier"}');
  const error = JSON.parse(engine.queryJson('{"tier":"pro","feature":"hd"}'));
  assert.equal(error.code, 'invalid_query');
  assert.equal(JSON.parse(engine.queryJson('not json')).code, 'not_json');
});

test('index.d.ts declares what index.js exports', () => {
  const declarations = readFileSync(join(__dirname, '..', 'index.d.ts'), 'utf8');
  for (const name of Object.keys(entitle)) {
    assert.match(declarations, new RegExp(`export declare (class|const) ${name}\\b`), name);
  }
  const declared = [...declarations.matchAll(/export declare (?:class|const) (\w+)/g)].map((m) => m[1]);
  assert.deepEqual(declared.sort(), Object.keys(entitle).sort());
  const body = declarations.slice(declarations.indexOf('export declare class Engine'));
  const methods = [...body.matchAll(/^ {2}(?:static )?(\w+)\(/gm)].map((m) => m[1]).filter((m) => m !== 'constructor');
  for (const method of methods) {
    assert.ok(typeof Engine[method] === 'function' || typeof Engine.prototype[method] === 'function', method);
  }
  assert.ok(methods.length >= 19, methods.join(','));
  assert.equal(typeof Object.getOwnPropertyDescriptor(Engine.prototype, 'policyHash').get, 'function');
});

test('a limit that draws on a pool is answered by it, and an unknown one names no pool', () => {
  const engine = Engine.fromSource(`policy "pools"
limit credits : count per month
limit minutes : duration draws credits at 5 per minute
tier pro { limit credits = 1_000 }
`);
  const request = engine.request({ tier: 'pro', now: NOW });
  const draw = engine.checkDraw(request, 'minutes', 900, 30 * 60);
  assert.deepEqual([draw.pool, draw.cost, draw.remainingUnits], ['credits', 150, 20 * 60]);
  assert.equal(draw.quota.allowed, false);
  assert.equal(engine.pool('minutes'), 'credits');
  assert.equal(engine.pool('credits'), null);
  const unknown = engine.checkDraw(request, 'nothing', 0, 1);
  assert.equal(unknown.quota.reason, 'unknown_limit');
  assert.equal(unknown.pool, null);
  assert.equal(engine.pool('nothing'), null);
});

test('a rolling window ends at the request, and a calendar one does not roll', () => {
  // The rolling limits are the conformance corpus's, the calendar ones the bundled policy's.
  const engine = Engine.fromPath(join(REPOSITORY, 'tests', 'conformance', 'rolling.policy'));
  const day = 86_400;
  const request = engine.request({ tier: 'pro', now: NOW });
  const week = engine.checkLimit(request, 'd7', 40, 1);
  assert.deepEqual([week.allowed, week.remaining], [true, 60]);
  assert.deepEqual(week.window, { start: NOW - 7 * day, end: NOW, rolling: true });
  assert.ok(Object.isFrozen(week.window));
  // It is never aligned: a second later, it ends a second later.
  const later = engine.checkLimit(engine.request({ tier: 'pro', now: NOW + 1 }), 'd7');
  assert.deepEqual([later.window.start, later.window.end], [NOW + 1 - 7 * day, NOW + 1]);

  // A limit that draws on a rolling pool rolls with it, denied too: 130 seconds cost 11 credits.
  const chat = engine.checkLimit(request, 'chat', 990, 130);
  assert.deepEqual([chat.allowed, chat.reason], [false, 'limit_exceeded']);
  assert.deepEqual(chat.window, { start: NOW - 7 * day, end: NOW, rolling: true });
  assert.deepEqual(engine.checkDraw(request, 'chat', 990, 130).quota, chat);
  // Every call that answers a limit carries it, and so does the JSON protocol.
  const [many, minutes] = engine.checkLimitMany(request, ['d7', 'mins'], [40, 60]);
  assert.deepEqual(many, engine.checkLimit(request, 'd7', 40));
  assert.deepEqual(minutes.window, { start: NOW - day, end: NOW, rolling: true });
  assert.deepEqual(engine.checkLimits(request, ['d7'], [40]).answers[0], many);
  assert.deepEqual(engine.entitlements(request, { d7: 40 }).limits.d7, many);
  const json = (on, limit) => JSON.parse(on.queryJson(JSON.stringify({ tier: 'pro', now: NOW, limit })));
  assert.equal(json(engine, 'd7').window.rolling, true);

  // A calendar window resets after the instant; a cap has no window.
  const rtc = Engine.fromPath(RTC);
  const pro = rtc.request({ tier: 'pro', now: NOW });
  const daily = rtc.checkLimit(pro, 'api_calls_per_day', 40);
  assert.equal(daily.window.rolling, false);
  assert.ok(daily.window.start <= NOW && NOW < daily.window.end && daily.window.end - daily.window.start === day);
  assert.equal(rtc.checkLimit(pro, 'storage').window, null);
  assert.equal('rolling' in json(rtc, 'api_calls_per_day').window, false);
  // And so on every path that answers many limits: a flag set on every window would show.
  const windows = rtc.checkLimitMany(pro, ['api_calls_per_day', 'api_calls_per_second'], [1, 1]).map((q) => q.window);
  assert.deepEqual(windows.map((w) => w.rolling), [false, false]);
  assert.equal(rtc.checkLimits(pro, ['api_calls_per_day'], [1]).answers[0].window.rolling, false);
  const all = Object.values(rtc.entitlements(pro).limits).filter((q) => q.window !== null);
  assert.ok(all.length > 0 && all.every((q) => q.window.rolling === false));
});
