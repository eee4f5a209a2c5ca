'use strict';
// The batch calls (`isAllowedMany`, `decideMany`, `checkLimitMany`) over the bundled policy:
// for every tier, several add-on sets, keys and instants, each answer of a batch equals the
// single call's, names and ids alike; and their lists are checked as the single calls'
// arguments are.

const test = require('node:test');
const assert = require('node:assert/strict');
const { join } = require('node:path');

const { Engine, EntitleError } = require('..');

const RTC = join(__dirname, '..', '..', '..', 'policies', 'rtc-sdk.policy');
const engine = Engine.fromPath(RTC);
const other = Engine.fromSource('policy "q"\nfeature zz\nlimit calls : count\ntier gold { grant zz\nlimit calls = 5 }\n', 'q.policy');

const TIERS = ['free', 'pro', 'enterprise', 'acme_contract', 'nope', engine.tier('pro')];
const ADDON_SETS = [
  [],
  ['ai_pack'],
  ['launch_promo'],
  ['ai_pack', 'launch_promo'],
  [engine.addon('ai_pack')],
  ['vip'],
  Array(33).fill('ai_pack'),
];
const KEYS = ['', 'app-42', 'app-7', 'customer-1003'];
// Inside and after launch_promo's validity, on a day boundary and inside a day.
const INSTANTS = [1_795_255_200, 1_764_547_200, 1_798_761_599, new Date('2026-11-30T23:59:59Z')];

// Every feature and limit of the policy, by name.
const FEATURE_NAMES = ['message_recall', 'read_receipts', 'group_mute', 'e2e_encryption', 'hd_video', 'adaptive_bitrate',
  'live_effects', 'conversational_ai', 'usage_analytics', 'priority_support', 'phone_support_24x7', 'dedicated_csm'];
const LIMIT_NAMES = ['concurrent_connections', 'api_calls_per_day', 'api_calls_per_second', 'storage', 'message_retention',
  'group_size', 'ai_minutes', 'ai_minutes_burst'];

// Names, ids, an unknown name, another engine's id, an id of no engine, and repeats.
const FEATURES = [
  ...FEATURE_NAMES,
  ...FEATURE_NAMES.map((name) => engine.feature(name)),
  'missing',
  other.feature('zz'),
  0,
  4_294_967_295,
  'hd_video',
  'hd_video',
  // Names no feature has: empty, and holding the NUL the names cross the addon ended by.
  '',
  'hd_video\0',
  '\0hd_video',
  'hd_video\0live_effects',
  'live_effects',
];
// A list of ids alone crosses into the addon as one typed array: the same answers again.
const FEATURE_IDS = FEATURES.filter((f) => typeof f === 'number');
const LIMITS = [...LIMIT_NAMES, ...LIMIT_NAMES.map((name) => engine.limit(name)), 'missing', other.limit('calls'), 0, 'storage'];
// Amounts below, at and past each limit, and the largest.
const AMOUNTS = [0, 9, 80, 9_999, 10_000, 1_100_000, 5_000_000, 2n ** 40n, 2n ** 64n - 1n];

function* requests() {
  for (const tier of TIERS) {
    for (const addons of ADDON_SETS) {
      for (const key of KEYS) {
        for (const now of INSTANTS) {
          yield { options: { tier, addons, key, now }, request: engine.request({ tier, addons, key, now }) };
        }
      }
    }
  }
}

test('the bundled policy declares the features and limits this test asks about', () => {
  for (const name of FEATURE_NAMES) assert.notEqual(engine.feature(name), null, name);
  for (const name of LIMIT_NAMES) assert.notEqual(engine.limit(name), null, name);
});

test('each batch answer equals the single call, for every tier and add-on set', () => {
  let asked = 0;
  const reasons = new Set();
  for (const { options, request } of requests()) {
    const label = JSON.stringify(options, (_, v) => (typeof v === 'bigint' ? String(v) : v));
    assert.deepEqual(
      engine.isAllowedMany(request, FEATURES),
      FEATURES.map((f) => engine.isAllowed(request, f)),
      label,
    );
    assert.deepEqual(
      engine.isAllowedMany(request, FEATURE_IDS),
      FEATURE_IDS.map((f) => engine.isAllowed(request, f)),
      label,
    );
    assert.deepEqual(engine.decideMany(request, FEATURE_IDS), FEATURE_IDS.map((f) => engine.decide(request, f)), label);
    const decisions = engine.decideMany(request, FEATURES);
    assert.deepEqual(decisions, FEATURES.map((f) => engine.decide(request, f)), label);
    for (const d of decisions) reasons.add(d.reason);
    asked += FEATURES.length * 2;
    // A key changes only rollouts: limits are asked under the first.
    if (options.key !== KEYS[0]) continue;
    // Every limit at every amount, in one list; the same list without `used` is all 0.
    const limits = LIMITS.flatMap((limit) => AMOUNTS.map(() => limit));
    const used = LIMITS.flatMap(() => AMOUNTS);
    const quotas = engine.checkLimitMany(request, limits, used);
    assert.deepEqual(quotas, limits.map((limit, i) => engine.checkLimit(request, limit, used[i])), label);
    for (const q of quotas) reasons.add(q.reason);
    assert.deepEqual(engine.checkLimitMany(request, LIMITS), LIMITS.map((limit) => engine.checkLimit(request, limit)), label);
    asked += limits.length + LIMITS.length;
  }
  assert.ok(asked > 50_000, `only ${asked} questions`);
  // The sweep reached every kind of answer a batch can give.
  for (const reason of ['granted_by_tier', 'granted_by_addon', 'granted_by_rollout', 'not_granted', 'outside_rollout',
    'addon_not_valid', 'addon_not_for_tier', 'within_limit', 'overage', 'limit_exceeded', 'unknown_tier', 'unknown_feature',
    'unknown_limit', 'unknown_addon', 'too_many_addons']) {
    assert.ok(reasons.has(reason), `no batch answered ${reason}`);
  }
});

test('batch answers are fresh arrays of frozen answers, and empty lists answer empty', () => {
  const request = engine.request({ tier: 'pro', now: INSTANTS[0] });
  const decisions = engine.decideMany(request, ['hd_video', 'dedicated_csm']);
  assert.deepEqual(decisions, [
    { allowed: true, reason: 'granted_by_tier' },
    { allowed: false, reason: 'not_granted' },
  ]);
  assert.ok(decisions.every(Object.isFrozen) && !Object.isFrozen(decisions));
  assert.ok(engine.checkLimitMany(request, ['storage']).every(Object.isFrozen));
  assert.deepEqual(engine.isAllowedMany(request, []), []);
  assert.deepEqual(engine.decideMany(request, []), []);
  assert.deepEqual(engine.checkLimitMany(request, []), []);
  assert.deepEqual(engine.checkLimitMany(request, [], []), []);
});

test('lists of ids longer than any before, and then shorter, answer each item', () => {
  const request = engine.request({ tier: 'pro', key: 'app-42', now: INSTANTS[0] });
  for (const length of [1, 63, 64, 65, 1_000, 3, 5_000, 0, 2]) {
    const list = Array.from({ length }, (_, i) => FEATURE_IDS[(i * 7) % FEATURE_IDS.length]);
    const expected = list.map((f) => engine.decide(request, f));
    assert.deepEqual(engine.decideMany(request, list), expected, `${length} ids`);
    assert.deepEqual(engine.isAllowedMany(request, list), expected.map((d) => d.allowed), `${length} ids`);
  }
});

test('checkLimitMany refuses a `used` of another length than `limits`, never cutting either', () => {
  const request = engine.request({ tier: 'pro', now: INSTANTS[0] });
  const limits = ['api_calls_per_day', 'storage', 'group_size'];
  for (const used of [[1], [1, 2], [1, 2, 3, 4], []]) {
    assert.throws(
      () => engine.checkLimitMany(request, limits, used),
      (e) => e instanceof RangeError && e.message.includes(`\`used\` has ${used.length} amounts for 3 limits`),
      JSON.stringify(used),
    );
  }
  // Without `used`, every limit is asked at 0.
  assert.deepEqual(engine.checkLimitMany(request, limits), limits.map((l) => engine.checkLimit(request, l, 0)));
  assert.deepEqual(engine.checkLimitMany(request, limits, undefined), engine.checkLimitMany(request, limits, [0, 0, 0]));
});

test('checkLimits answers each limit as checkLimit does and names the one that binds', () => {
  const limits = ['ai_minutes_burst', 'api_calls_per_day', engine.limit('concurrent_connections'), 'no_such_limit'];
  for (const tier of TIERS) {
    for (const addons of ADDON_SETS) {
      const request = engine.request({ tier, addons, key: 'app-42', now: INSTANTS[0] });
      for (const used of [[0, 0, 0, 0], [120, 10, 0, 0], [0, 1_100_000, 9_000, 0]]) {
        const requested = [1, 1, 1, 1];
        const batch = engine.checkLimits(request, limits, used, requested);
        assert.deepEqual(batch.answers, limits.map((l, i) => engine.checkLimit(request, l, used[i], requested[i])));
        assert.equal(batch.allowed, batch.answers.every((q) => q.allowed));
        // The unknown limit always denies, so the first deny binds, never after it.
        assert.equal(batch.binding, batch.answers.findIndex((q) => !q.allowed));
        assert.ok(Object.isFrozen(batch) && Object.isFrozen(batch.answers));
      }
    }
  }
  const pro = engine.request({ tier: 'pro', now: INSTANTS[0] });
  const overage = engine.checkLimits(pro, ['ai_minutes_burst', 'api_calls_per_day'], [0, 1_100_000], [1, 1]);
  assert.equal(overage.allowed, true);
  assert.equal(overage.binding, 1, 'overage binds over within');
  assert.equal(overage.answers[1].status, 'overage');
  assert.deepEqual(engine.checkLimits(pro, []), { allowed: true, binding: null, answers: [] });
  for (const [used, requested, name] of [[[1], undefined, 'used'], [undefined, [1, 2, 3], 'requested']]) {
    assert.throws(
      () => engine.checkLimits(pro, ['storage', 'group_size'], used, requested),
      (e) => e instanceof RangeError && e.message.includes(`\`${name}\` has`),
    );
  }
  assert.throws(() => engine.checkLimits(pro, ['storage'], [0], [-1]), /`requested\[0\]`/);
  assert.throws(() => engine.checkLimits(pro, 'storage'), TypeError);
});

test('a batch list of the wrong type is a TypeError naming the parameter and what it takes', () => {
  const request = engine.request({ tier: 'pro', now: INSTANTS[0] });
  const wrong = [
    [() => engine.isAllowedMany(request, 'hd_video'), /`features` must be an array, each item a name \(string\) or an id/],
    [() => engine.isAllowedMany(request, new Set(['hd_video'])), /`features` must be an array/],
    [() => engine.isAllowedMany(request, ['hd_video', 1.5]), /`features\[1\]` must be a name \(string\) or an id.*not number 1.5/],
    [() => engine.isAllowedMany(request, [-1]), /`features\[0\]`/],
    [() => engine.isAllowedMany(request, [2 ** 32]), /`features\[0\]`/],
    // A hole in the list is an undefined item.
    [() => engine.isAllowedMany(request, ['hd_video', , 'storage']), /`features\[1\]` must be .*not undefined/],
    [() => engine.isAllowedMany({}, ['hd_video']), /`request`/],
    [() => engine.decideMany(request, null), /`features` must be an array.*not null/],
    [() => engine.decideMany(request, [true]), /`features\[0\]` must be a name/],
    [() => engine.decideMany(request, [Buffer.from('hd_video')]), /`features\[0\]`/],
    [() => engine.decideMany('pro', ['hd_video']), /`request`/],
    [() => engine.checkLimitMany(request, 'storage'), /`limits` must be an array/],
    [() => engine.checkLimitMany(request, [{}]), /`limits\[0\]` must be a name/],
    [() => engine.checkLimitMany(request, ['storage'], 5), /`used` must be an array of amounts, one for each limit/],
    [() => engine.checkLimitMany(request, ['storage'], [-1]), /`used\[0\]` must be a whole number from 0 to 2\^53 − 1, or a bigint/],
    [() => engine.checkLimitMany(request, ['storage', 'group_size'], [1, 1.5]), /`used\[1\]`/],
    [() => engine.checkLimitMany(request, ['storage'], ['5']), /`used\[0\]`.*not the string "5"/],
    [() => engine.checkLimitMany(request, ['storage'], [2n ** 64n]), /`used\[0\]`/],
    // Where a `used` list is given, each amount is: a hole is not 0.
    [() => engine.checkLimitMany(request, ['storage', 'group_size'], [1, undefined]), /`used\[1\]`.*not undefined/],
    [() => engine.checkLimitMany(request, ['storage', 'group_size'], [, 1]), /`used\[0\]`/],
  ];
  for (const [call, message] of wrong) {
    assert.throws(call, (e) => e instanceof TypeError && message.test(e.message), String(call));
  }
  // The lists are read, not kept: changing one after the call changes no answer.
  const features = ['hd_video'];
  const answers = engine.isAllowedMany(request, features);
  features[0] = 'dedicated_csm';
  assert.deepEqual(answers, [true]);
});

test('a list whose item calls a batch call while it is read is refused, and the outer answers stay its own', () => {
  const request = engine.request({ tier: 'pro', now: INSTANTS[0] });
  const page = ['hd_video', 'dedicated_csm', 'hd_video', 'dedicated_csm'];
  const expected = page.map((f) => engine.isAllowed(request, f));
  let refused = null;
  // The getter of item 2 asks another batch with other features, as a careless Proxy might.
  const sneaky = new Proxy(page, {
    get(target, property, receiver) {
      if (property === '2' && refused === null) {
        try {
          engine.isAllowedMany(request, ['dedicated_csm', 'dedicated_csm', 'dedicated_csm']);
        } catch (error) {
          refused = error;
        }
      }
      return Reflect.get(target, property, receiver);
    },
  });
  assert.deepEqual(engine.isAllowedMany(request, sneaky), expected);
  assert.ok(refused instanceof EntitleError, String(refused));
  assert.equal(refused.code, 'reentered');
  // The flag is cleared once a list is read, whatever happened inside it.
  assert.deepEqual(engine.isAllowedMany(request, page), expected);
});

test('a list whose length getter calls a batch call gets its own answers, the length read once', () => {
  const request = engine.request({ tier: 'pro', now: INSTANTS[0] });
  const denied = engine.feature('dedicated_csm');
  const allowed = engine.feature('hd_video');
  assert.deepEqual([engine.isAllowed(request, denied), engine.isAllowed(request, allowed)], [false, true]);
  for (const many of ['isAllowedMany', 'decideMany']) {
    const inner = [];
    // Each read of `length` asks another batch whose one feature is allowed, as a careless
    // Proxy might: were any of them answered, it would overwrite the outer call's id.
    const sneaky = new Proxy([denied], {
      get(target, property, receiver) {
        if (property === 'length') {
          try {
            inner.push(engine.isAllowedMany(request, [allowed]));
          } catch (error) {
            inner.push(error);
          }
        }
        return Reflect.get(target, property, receiver);
      },
    });
    assert.deepEqual(engine[many](request, sneaky), [engine[many === 'isAllowedMany' ? 'isAllowed' : 'decide'](request, denied)], many);
    assert.equal(inner.length, 1, `${many} read the length ${inner.length} times`);
    assert.ok(inner.every((e) => e instanceof EntitleError && e.code === 'reentered'), many);
  }
});

test('a list an item getter grows is answered for the items laid out, never from an earlier call', () => {
  const request = engine.request({ tier: 'pro', now: INSTANTS[0] });
  const denied = engine.feature('dedicated_csm');
  const allowed = engine.feature('hd_video');
  for (const many of ['isAllowedMany', 'decideMany']) {
    // An earlier call leaves an allowed id at place 1 of whatever the ids are laid out in.
    assert.deepEqual(engine.isAllowedMany(request, [allowed, allowed]), [true, true]);
    const list = [denied];
    Object.defineProperty(list, 0, {
      get() {
        list.length = 2;
        return denied;
      },
    });
    const answers = engine[many](request, list);
    assert.equal(answers.length, 1, `${many} answered ${JSON.stringify(answers)}`);
    assert.deepEqual(answers, [engine[many === 'isAllowedMany' ? 'isAllowed' : 'decide'](request, denied)], many);
  }
});

test('a long list that is refused leaves no memory behind, and the shared buffers stay bounded', () => {
  const request = engine.request({ tier: 'pro', now: INSTANTS[0] });
  const before = process.memoryUsage().arrayBuffers;
  for (const many of ['isAllowedMany', 'decideMany']) {
    assert.throws(() => engine[many](request, new Array(20_000_000)), (e) => e instanceof TypeError && /`features\[0\]`.*not undefined/.test(e.message));
  }
  const grew = process.memoryUsage().arrayBuffers - before;
  assert.ok(grew < 1_000_000, `a refused list left ${grew} bytes of buffers`);
  const scratchLength = require('..')[Symbol.for('entitle.scratchLength')];
  assert.equal(typeof scratchLength, 'function');
  assert.ok(scratchLength() <= 4_096, `the shared buffers hold ${scratchLength()} items`);
  // Long lists are answered in full, each item, and leave the shared buffers bounded too.
  for (const length of [4_095, 4_096, 4_097, 100_000, 5, 4_096]) {
    const list = Array.from({ length }, (_, i) => (i % 3 === 0 ? 'dedicated_csm' : FEATURE_IDS[i % FEATURE_IDS.length]));
    const expected = list.map((f) => engine.decide(request, f));
    assert.deepEqual(engine.decideMany(request, list), expected, `${length} items`);
    assert.deepEqual(engine.isAllowedMany(request, list), expected.map((d) => d.allowed), `${length} items`);
    assert.ok(scratchLength() <= 4_096, `after ${length} items the shared buffers hold ${scratchLength()} items`);
  }
  // A list that fails part way through a long run is refused at the item that is wrong.
  const partly = Array.from({ length: 10_000 }, () => 'hd_video');
  partly[9_000] = null;
  assert.throws(() => engine.isAllowedMany(request, partly), /`features\[9000\]`.*not null/);
  assert.deepEqual(engine.isAllowedMany(request, ['hd_video', 'dedicated_csm']), [true, false]);
});

test('checkLimitMany answers for the limits and amounts it checked, each read once', () => {
  const request = engine.request({ tier: 'pro', now: INSTANTS[0] });
  const expected = [engine.checkLimit(request, 'storage', 7), engine.checkLimit(request, 'group_size', 9)];
  // Items that read as a checked value once, and as another (a wrong type, or another limit)
  // every time after.
  for (const later of [{}, 'api_calls_per_day', 2 ** 40]) {
    const reads = new Map();
    const changing = (values) =>
      new Proxy(values, {
        get(target, property, receiver) {
          const value = Reflect.get(target, property, receiver);
          if (typeof property !== 'string' || !/^\d+$/.test(property)) return value;
          const seen = reads.get(target) ?? new Set();
          reads.set(target, seen);
          if (seen.has(property)) return later;
          seen.add(property);
          return value;
        },
      });
    assert.deepEqual(engine.checkLimitMany(request, changing(['storage', 'group_size']), changing([7, 9])), expected, String(later));
    const plain = ['storage', 'group_size'];
    let first = true;
    Object.defineProperty(plain, 0, {
      get() {
        const value = first ? 'storage' : later;
        first = false;
        return value;
      },
    });
    assert.deepEqual(engine.checkLimitMany(request, plain, [7, 9]), expected, String(later));
  }
  // A wrong item is still a TypeError naming it.
  assert.throws(() => engine.checkLimitMany(request, new Proxy(['storage', {}], {}), [1, 2]), (e) => e instanceof TypeError && /`limits\[1\]`/.test(e.message));
  // A `used` whose length changes between reads is checked at the one length read.
  let lengthReads = 0;
  const used = new Proxy([7, 9], {
    get(target, property, receiver) {
      if (property === 'length') {
        lengthReads += 1;
        return lengthReads === 1 ? 2 : 3;
      }
      return Reflect.get(target, property, receiver);
    },
  });
  assert.deepEqual(engine.checkLimitMany(request, ['storage', 'group_size'], used), expected);
  assert.equal(lengthReads, 1);
});

test('a list whose length is not an array length is a TypeError naming it', () => {
  const request = engine.request({ tier: 'pro', now: INSTANTS[0] });
  for (const length of [1.5, -1, '1', 2 ** 32, NaN]) {
    const list = new Proxy(['hd_video'], { get: (target, property, receiver) => (property === 'length' ? length : Reflect.get(target, property, receiver)) });
    for (const call of [() => engine.isAllowedMany(request, list), () => engine.decideMany(request, list)]) {
      assert.throws(call, (e) => e instanceof TypeError && e.message.includes('`features.length` must be an array length'), String(length));
    }
    assert.throws(() => engine.checkLimitMany(request, list), (e) => e instanceof TypeError && e.message.includes('`limits.length`'), String(length));
  }
  assert.throws(() => engine.checkLimitMany(request, new Array(20_000_000)), /`limits\[0\]`.*not undefined/);
});

test('a request reads its add-ons once, and holds the ones it checked', () => {
  let reads = 0;
  // The first read of item 0 gives a known add-on; any later read would give a wrong type.
  const sneaky = new Proxy(['ai_pack'], {
    get(target, property, receiver) {
      if (property === '0') {
        reads += 1;
        return reads === 1 ? 'ai_pack' : {};
      }
      return Reflect.get(target, property, receiver);
    },
  });
  const request = engine.request({ tier: 'pro', addons: sneaky, now: INSTANTS[0] });
  assert.equal(reads, 1);
  assert.deepEqual(request.addons, ['ai_pack']);
  const plain = engine.request({ tier: 'pro', addons: ['ai_pack'], now: INSTANTS[0] });
  assert.deepEqual(engine.decide(request, 'conversational_ai'), engine.decide(plain, 'conversational_ai'));
});
