'use strict';
// A million questions, then another million: memory after the second must be where it was
// after the first, so that no call keeps anything (an answer, a request, an engine, a string
// handed to Rust) once JavaScript lets go of it. The first million warms every path and the
// allocators up; the second may then grow by a small bound only, far less than one byte a
// question.

const test = require('node:test');
const assert = require('node:assert/strict');
const { join } = require('node:path');
const { readFileSync } = require('node:fs');
const v8 = require('node:v8');
const vm = require('node:vm');

const { Engine } = require('..');

const POLICY = join(__dirname, '..', '..', '..', 'policies', 'rtc-sdk.policy');
const TEXT = readFileSync(POLICY, 'utf8');
const NOW = 1_795_255_200;
const ROUND = 1_000_000;
const MIB = 1024 * 1024;

// `npm test` passes `--expose-gc`; run any other way, the collector is exposed here.
if (typeof global.gc !== 'function') {
  v8.setFlagsFromString('--expose-gc');
  global.gc = vm.runInNewContext('gc');
}

/** Memory once the collector has run and the finalizers of dropped engines and requests
 * (which napi may defer to the event loop) have freed their Rust halves. */
async function settled() {
  for (let i = 0; i < 4; i += 1) {
    global.gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return process.memoryUsage();
}

const FEATURES = ['hd_video', 'live_effects', 'conversational_ai', 'dedicated_csm', 'missing'];
const LIMITS = ['api_calls_per_day', 'storage', 'ai_minutes', 'group_size', 'missing'];

/** `count` questions of every kind; engines and requests are made and dropped as they go. */
function ask(count) {
  let engine = Engine.fromSource(TEXT, 'rtc-sdk.policy');
  let request = engine.request({ tier: 'pro', now: NOW });
  let ids = FEATURES.map((f) => engine.feature(f) ?? 0);
  let allowed = 0;
  for (let i = 0; i < count; i += 1) {
    if (i % 200_000 === 199_999) {
      engine = Engine.fromSource(TEXT, 'rtc-sdk.policy');
      ids = FEATURES.map((f) => engine.feature(f) ?? 0);
    }
    if (i % 100 === 0 || i % 200_000 === 199_999) {
      const tier = ['free', 'pro', 'enterprise', 'nope'][Math.floor(i / 100) % 4];
      request = engine.request({ tier, key: `app-${i}`, addons: i % 300 ? ['ai_pack'] : [], now: NOW + i });
    }
    const feature = FEATURES[i % FEATURES.length];
    const limit = LIMITS[i % LIMITS.length];
    // Mostly the hot path; every other kind of call once in 20, the costly ones rarer.
    switch (i % 20) {
      case 0:
        allowed += engine.decide(request, feature).allowed ? 1 : 0;
        break;
      case 1:
        allowed += engine.checkLimit(request, limit, i, 2n ** 60n).allowed ? 1 : 0;
        break;
      case 2:
        allowed += engine.decideMany(request, i % 40 < 20 ? FEATURES : ids).filter((d) => d.allowed).length;
        break;
      case 3:
        allowed += engine.checkLimitMany(request, LIMITS, [i, 0, i, 2n ** 63n, 1]).filter((q) => q.allowed).length;
        break;
      case 4:
        allowed += engine.isAllowedMany(request, i % 40 < 20 ? FEATURES : ids).filter(Boolean).length;
        break;
      case 5:
        if (i % 2_000 === 5) allowed += Object.keys(engine.entitlements(request, { storage: i }).features).length;
        else if (i % 2_000 === 25) allowed += engine.explainFeature(request, feature).answer.allowed ? 1 : 0;
        else if (i % 2_000 === 45) allowed += engine.queryJson(`{"tier":"pro","now":${NOW},"feature":"${feature}"}`).length;
        else if (i % 2_000 === 65) allowed += engine.settingValue(engine.request({ tier: 'pro', now: NOW }), 'support_channel').value.length;
        else allowed += engine.isAllowed(request, feature) ? 1 : 0;
        break;
      case 6:
      case 7:
        allowed += engine.isAllowed(request, feature) ? 1 : 0;
        break;
      default:
        allowed += engine.isAllowed(request, ids[i % ids.length]) ? 1 : 0;
    }
  }
  return allowed;
}

test('memory stays flat over a second million questions', async () => {
  // Two rounds before the first measure: after one, V8 may still be growing the pages of its
  // own code and reserves (which rss counts and heapTotal does not), and a busy machine's
  // CI read 4.2 MiB of that as native growth.
  ask(ROUND);
  const first = ask(ROUND);
  const before = await settled();
  const second = ask(ROUND);
  const after = await settled();
  // The same questions, the same answers.
  assert.equal(second, first);
  assert.ok(first > ROUND / 10, `${first} allowed`);
  const mib = (bytes) => (bytes / MIB).toFixed(1);
  const report = ['rss', 'heapTotal', 'heapUsed', 'external'].map((f) => `${f} ${mib(before[f])} → ${mib(after[f])} MiB`).join(', ');
  // What the process holds outside the JavaScript heap (whose reserve V8 sizes as it likes):
  // the engines, requests and answers on the Rust side, and the allocators around them.
  const native = (m) => m.rss - m.heapTotal;
  // A leak of a byte a question would grow it by a MiB, of an answer's strings by tens.
  assert.ok(native(after) - native(before) < 4 * MIB, report);
  assert.ok(after.heapUsed - before.heapUsed < 2 * MIB, report);
  assert.ok(after.external - before.external < MIB / 2, report);
  console.log(report);
});
