'use strict';
// The same entitlement questions from Node: entitle's `isAllowed` by cached ids, and a plain
// JavaScript object of the same precomputed answers (what the loop and a property lookup cost
// alone), on the plan model of policies/rtc-sdk.policy. The answers are checked equal before
// anything is timed. Prints ns per question (the median of rounds):
//
//     cd bindings/node && npm run build && node bench.js
//
// docs/performance.md records the figures.

const { join } = require('node:path');
const { readFileSync } = require('node:fs');
const { Engine } = require('.');

const POLICY = join(__dirname, '..', '..', 'policies', 'rtc-sdk.policy');
const NOW = 1_795_255_200;
const ROUNDS = 15;
const CALLS = 200_000;

const engine = Engine.fromPath(POLICY);
const tiers = ['free', 'pro', 'enterprise', 'acme_contract'];
const features = readFileSync(POLICY, 'utf8')
  .split('\n')
  .filter((line) => line.startsWith('feature '))
  .map((line) => line.split(/\s+/)[1]);

const requests = tiers.map((tier) => engine.request({ tier, key: 'app-42', now: NOW }));
const questions = [];
for (let t = 0; t < tiers.length; t += 1) {
  for (const feature of features) questions.push([t, feature]);
}
const ids = questions.map(([t, feature]) => [requests[t], engine.feature(feature)]);
// The plain object: one property per tier, then per feature, holding the answer.
const table = {};
for (const [t, feature] of questions) {
  table[tiers[t]] ??= {};
  table[tiers[t]][feature] = engine.decide(requests[t], feature).allowed;
}
const byName = questions.map(([t, feature]) => [tiers[t], feature]);

for (let i = 0; i < questions.length; i += 1) {
  const [request, feature] = ids[i];
  const [tier, name] = byName[i];
  if (engine.isAllowed(request, feature) !== table[tier][name]) {
    throw new Error(`answers differ for ${tier} ${name}`);
  }
}

function time(run) {
  const samples = [];
  let sink = 0;
  for (let round = 0; round < ROUNDS; round += 1) {
    const start = process.hrtime.bigint();
    sink += run();
    samples.push(Number(process.hrtime.bigint() - start) / CALLS);
  }
  samples.sort((a, b) => a - b);
  return { ns: samples[Math.floor(samples.length / 2)], sink };
}

const n = questions.length;
const runs = {
  'plain JS object of the answers': () => {
    let allowed = 0;
    for (let i = 0; i < CALLS; i += 1) {
      const [tier, name] = byName[i % n];
      if (table[tier][name]) allowed += 1;
    }
    return allowed;
  },
  'entitle isAllowed (cached ids)': () => {
    let allowed = 0;
    for (let i = 0; i < CALLS; i += 1) {
      const [request, feature] = ids[i % n];
      if (engine.isAllowed(request, feature)) allowed += 1;
    }
    return allowed;
  },
  'entitle isAllowed (names)': () => {
    let allowed = 0;
    for (let i = 0; i < CALLS; i += 1) {
      const [t, feature] = questions[i % n];
      if (engine.isAllowed(requests[t], feature)) allowed += 1;
    }
    return allowed;
  },
};

// Warm up every path so that each is measured compiled.
for (const run of Object.values(runs)) run();
console.log(`${n} questions, ${CALLS} calls a round, median of ${ROUNDS} rounds, node ${process.version}`);
const results = Object.entries(runs).map(([name, run]) => [name, time(run)]);
const sinks = new Set(results.map(([, r]) => r.sink));
if (sinks.size !== 1) throw new Error('the runs counted different answers');
for (const [name, { ns }] of results) {
  console.log(`${name.padEnd(34)} ${ns.toFixed(1).padStart(8)} ns/question`);
}
