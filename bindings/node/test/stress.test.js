'use strict';
// Sixteen worker threads, each with its own engine of the same policy (napi values belong to
// one thread), ask 100,000 questions each at once, on two cores or however many there are:
// every worker's answers, hashed, must equal the answers of the main thread asked alone.

const test = require('node:test');
const assert = require('node:assert/strict');
const { join } = require('node:path');
const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');

const { Engine } = require('..');

const POLICY = join(__dirname, '..', '..', '..', 'policies', 'rtc-sdk.policy');
const WORKERS = 16;
const QUERIES = 100_000;
const NOW = 1_795_255_200;

const TIERS = ['free', 'pro', 'enterprise', 'acme_contract', 'nope'];
const ADDON_SETS = [[], ['ai_pack'], ['launch_promo'], ['ai_pack', 'launch_promo']];
const FEATURES = ['message_recall', 'e2e_encryption', 'hd_video', 'live_effects', 'conversational_ai', 'dedicated_csm', 'missing'];
const LIMITS = ['concurrent_connections', 'api_calls_per_day', 'storage', 'group_size', 'ai_minutes', 'missing'];
const REASONS = [
  'granted_by_tier', 'granted_by_addon', 'granted_by_rollout', 'not_granted', 'revoked', 'outside_rollout',
  'addon_not_valid', 'addon_not_for_tier', 'within_limit', 'overage', 'limit_exceeded', 'unknown_tier',
  'unknown_feature', 'unknown_limit', 'unknown_addon', 'unknown_setting', 'too_many_addons', 'limit_not_set',
];
const STATUSES = ['within', 'warning', 'overage', 'exceeded'];

/** 32-bit FNV-1a over small integers: cheap next to a question, and any changed answer
 * changes it. */
function mix(hash, value) {
  return Math.imul(hash ^ value, 16_777_619) >>> 0;
}

function code(list, text) {
  const i = list.indexOf(text);
  if (i < 0) throw new Error(`unexpected answer \`${text}\``);
  return i;
}

function mixAmount(hash, amount) {
  if (amount === 'unlimited') return mix(hash, 0x7fff_ffff);
  const n = Number(amount);
  return mix(mix(hash, n % 0x1_0000_0000), Math.floor(n / 0x1_0000_0000));
}

/** The hash of `count` questions of every kind, over many subjects, and how many allowed. */
function answers(count) {
  const engine = Engine.fromPath(POLICY);
  const requests = [];
  for (let k = 0; k < 31; k += 1) {
    for (const tier of TIERS) {
      for (const addons of ADDON_SETS) requests.push(engine.request({ tier, addons, key: `app-${k}`, now: NOW + k * 3_607 }));
    }
  }
  const featureIds = FEATURES.map((f) => engine.feature(f) ?? 4_294_967_295);
  const limitIds = LIMITS.map((l) => engine.limit(l) ?? 4_294_967_295);
  let hash = 2_166_136_261;
  let allowed = 0;
  for (let i = 0; i < count; i += 1) {
    const request = requests[i % requests.length];
    const f = i % FEATURES.length;
    const l = i % LIMITS.length;
    // Mostly the hot path, by id and by name, as a service asks; every other kind of
    // question once in 16.
    switch (i % 16) {
      case 13: {
        const d = engine.decide(request, FEATURES[f]);
        hash = mix(mix(hash, d.allowed ? 1 : 0), code(REASONS, d.reason));
        allowed += d.allowed ? 1 : 0;
        break;
      }
      case 14: {
        const q = engine.checkLimit(request, i % 32 < 16 ? LIMITS[l] : limitIds[l], (i * 7_919) % 1_500_000, i % 50);
        hash = mixAmount(mix(mix(mix(hash, q.allowed ? 1 : 0), code(REASONS, q.reason)), code(STATUSES, q.status)), q.remaining);
        allowed += q.allowed ? 1 : 0;
        break;
      }
      case 15: {
        for (const yes of engine.isAllowedMany(request, i % 32 < 16 ? featureIds : FEATURES)) hash = mix(hash, yes ? 1 : 0);
        break;
      }
      default: {
        const yes = engine.isAllowed(request, i % 4 ? featureIds[f] : FEATURES[f]);
        hash = mix(hash, yes ? 1 : 0);
        allowed += yes ? 1 : 0;
      }
    }
  }
  return { hash, allowed };
}

if (isMainThread) {
  test(`${WORKERS} workers × ${QUERIES} questions answer as one thread alone does`, async () => {
    const expected = answers(QUERIES);
    assert.ok(expected.allowed > QUERIES / 10 && expected.allowed < QUERIES / 2, JSON.stringify(expected));
    const workers = Array.from({ length: WORKERS }, () => new Worker(__filename, { workerData: { count: QUERIES } }));
    const results = workers.map(
      (worker) =>
        new Promise((resolve, reject) => {
          worker.once('message', resolve);
          worker.once('error', reject);
        }),
    );
    for (const result of await Promise.all(results)) assert.deepEqual(result, expected);
    await Promise.all(workers.map((worker) => worker.terminate()));
  });
} else {
  parentPort.postMessage(answers(workerData.count));
}
