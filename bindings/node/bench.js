'use strict';
// The same entitlement questions from Node: entitle's `isAllowed` by cached ids and by names,
// a plain JavaScript object of the same precomputed answers (what the loop and a property
// lookup cost alone), and casbin's npm package (`enforceSync`, one policy line per granted
// pair: the leanest fair model, as in the Rust comparison), on the plan model of
// policies/rtc-sdk.policy; then `isAllowedMany` over 100 cached ids, and 100 names, a call.
// Every engine's answers are checked equal before anything is timed. Prints ns per question
// (the median of rounds):
//
//     cd bindings/node && npm ci && npm run build && node bench.js
//
// docs/performance.md records the figures.

const { join } = require('node:path');
const { readFileSync } = require('node:fs');
const { Engine } = require('.');

const POLICY = join(__dirname, '..', '..', 'policies', 'rtc-sdk.policy');
const NOW = 1_795_255_200;
const ROUNDS = 15;
// The features of one `isAllowedMany` call.
const MANY = 100;

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

// casbin's model: a subject may use an object when a policy line grants exactly that pair; the
// lines are the pairs entitle allows for the key `app-42`, rollouts included.
const CASBIN_MODEL = `
[request_definition]
r = sub, obj
[policy_definition]
p = sub, obj
[policy_effect]
e = some(where (p.eft == allow))
[matchers]
m = r.sub == p.sub && r.obj == p.obj
`;

async function casbinEnforcer() {
  let casbin;
  try {
    casbin = require('casbin');
  } catch {
    return null; // `npm ci` installs it; without it the comparison leaves casbin out.
  }
  const lines = byName.filter(([tier, name]) => table[tier][name]).map(([tier, name]) => `p, ${tier}, ${name}`);
  return casbin.newEnforcer(casbin.newModelFromString(CASBIN_MODEL), new casbin.StringAdapter(lines.join('\n')));
}

function time(run, calls) {
  const samples = [];
  let sink = 0;
  for (let round = 0; round < ROUNDS; round += 1) {
    const start = process.hrtime.bigint();
    sink += run(calls);
    samples.push(Number(process.hrtime.bigint() - start) / calls);
  }
  samples.sort((a, b) => a - b);
  return { ns: samples[Math.floor(samples.length / 2)], sink: sink / ROUNDS / calls };
}

async function main() {
  const enforcer = await casbinEnforcer();
  for (let i = 0; i < questions.length; i += 1) {
    const [request, feature] = ids[i];
    const [tier, name] = byName[i];
    const answer = table[tier][name];
    if (engine.isAllowed(request, feature) !== answer || engine.isAllowed(requests[questions[i][0]], name) !== answer) {
      throw new Error(`entitle's answers differ for ${tier} ${name}`);
    }
    if (enforcer && enforcer.enforceSync(tier, name) !== answer) {
      throw new Error(`casbin's answer differs for ${tier} ${name}`);
    }
  }

  const n = questions.length;
  // Whole sweeps of the questions a round, so that every engine allows the same share.
  const CALLS = n * 4096;
  const runs = {
    'plain JS object of the answers': (calls) => {
      let allowed = 0;
      for (let i = 0; i < calls; i += 1) {
        const [tier, name] = byName[i % n];
        if (table[tier][name]) allowed += 1;
      }
      return allowed;
    },
    'entitle isAllowed (cached ids)': (calls) => {
      let allowed = 0;
      for (let i = 0; i < calls; i += 1) {
        const [request, feature] = ids[i % n];
        if (engine.isAllowed(request, feature)) allowed += 1;
      }
      return allowed;
    },
    'entitle isAllowed (names)': (calls) => {
      let allowed = 0;
      for (let i = 0; i < calls; i += 1) {
        const [t, feature] = questions[i % n];
        if (engine.isAllowed(requests[t], feature)) allowed += 1;
      }
      return allowed;
    },
  };
  // casbin answers in microseconds: fewer calls a round (a whole number of sweeps, like the
  // others), so that a run takes seconds.
  const calls = { 'casbin enforceSync': n * 250 };
  if (enforcer) {
    runs['casbin enforceSync'] = (count) => {
      let allowed = 0;
      for (let i = 0; i < count; i += 1) {
        const [tier, name] = byName[i % n];
        if (enforcer.enforceSync(tier, name)) allowed += 1;
      }
      return allowed;
    };
  }

  // Warm up every path so that each is measured compiled.
  for (const [name, run] of Object.entries(runs)) run(calls[name] ?? CALLS);
  console.log(`${n} questions, median of ${ROUNDS} rounds, node ${process.version}${enforcer ? '' : ' (casbin not installed)'}`);
  const results = Object.entries(runs).map(([name, run]) => [name, time(run, calls[name] ?? CALLS)]);
  // Every engine allowed the same share of the questions (each round is whole sweeps).
  const shares = new Set(results.map(([, r]) => r.sink.toFixed(9)));
  if (shares.size !== 1) throw new Error('the runs counted different answers');
  const byIds = results.find(([name]) => name.includes('cached ids'))[1].ns;
  for (const [name, { ns }] of results) {
    console.log(`${name.padEnd(34)} ${ns.toFixed(1).padStart(10)} ns/question ${(ns / byIds).toFixed(1).padStart(8)}× entitle (ids)`);
  }

  // A page of 100 features in one call: each tier's request asks for the 12 features of the
  // policy over and over, 100 a list, by cached ids and then by names; the answers are checked
  // against isAllowed first.
  for (const [label, item] of [['ids', (name) => engine.feature(name)], ['names', (name) => name]]) {
    const pages = requests.map((request) => {
      const list = Array.from({ length: MANY }, (_, i) => item(features[i % features.length]));
      const expected = list.map((feature) => engine.isAllowed(request, feature));
      if (JSON.stringify(engine.isAllowedMany(request, list)) !== JSON.stringify(expected)) {
        throw new Error(`isAllowedMany answers differ from isAllowed, by ${label}`);
      }
      return [request, list];
    });
    const many = (calls) => {
      let allowed = 0;
      for (let i = 0; i < calls; i += 1) {
        const [request, list] = pages[i % pages.length];
        for (const yes of engine.isAllowedMany(request, list)) if (yes) allowed += 1;
      }
      return allowed;
    };
    const manyCalls = pages.length * 1024;
    many(manyCalls);
    const { ns } = time(many, manyCalls);
    const name = `entitle isAllowedMany (${MANY} ${label})`;
    console.log(`${name.padEnd(34)} ${ns.toFixed(1).padStart(10)} ns/call     ${(ns / MANY).toFixed(1).padStart(8)} ns/feature`);
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
