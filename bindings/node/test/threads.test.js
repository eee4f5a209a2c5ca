'use strict';
// The addon in worker threads: each worker loads its own engine (napi values belong to one
// thread) and answers exactly as the main thread does, while the main thread keeps asking.

const test = require('node:test');
const assert = require('node:assert/strict');
const { join } = require('node:path');
const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');

const { Engine } = require('..');

const POLICY = join(__dirname, '..', '..', '..', 'policies', 'rtc-sdk.policy');
const TIERS = ['free', 'pro', 'enterprise', 'acme_contract', 'nope'];
const FEATURES = ['hd_video', 'adaptive_bitrate', 'live_effects', 'dedicated_csm', 'missing'];

function answers(engine, rounds) {
  const out = [];
  for (let round = 0; round < rounds; round += 1) {
    for (const tier of TIERS) {
      const request = engine.request({ tier, key: `app-${round}`, now: 1_795_255_200 + round });
      for (const feature of FEATURES) out.push(engine.decide(request, feature).reason);
      out.push(engine.checkLimit(request, 'api_calls_per_day', round * 1000).status);
    }
  }
  return out;
}

if (isMainThread) {
  test('four workers answer as the main thread does', async () => {
    const rounds = 200;
    const expected = answers(Engine.fromPath(POLICY), rounds);
    // Each worker runs this file, which in a worker answers and posts the answers back.
    const workers = Array.from({ length: 4 }, () => new Worker(__filename, { workerData: { rounds } }));
    const results = workers.map(
      (worker) =>
        new Promise((resolve, reject) => {
          worker.once('message', resolve);
          worker.once('error', reject);
        }),
    );
    // The main thread keeps asking its own engine while the workers run.
    assert.deepEqual(answers(Engine.fromPath(POLICY), rounds), expected);
    for (const result of await Promise.all(results)) {
      assert.equal(result.length, expected.length);
      assert.deepEqual(result, expected);
    }
    await Promise.all(workers.map((worker) => worker.terminate()));
  });
} else {
  parentPort.postMessage(answers(Engine.fromPath(POLICY), workerData.rounds));
}
