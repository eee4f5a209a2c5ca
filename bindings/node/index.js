'use strict';
// entitle for Node: plans, feature flags and quotas, checked and answered in-process by the
// Rust engine (a napi-rs addon, `src/`). This file is the public API: it checks every
// argument's type, so that a wrong one is a `TypeError` naming the parameter rather than a
// guess, and shapes the answers. `index.d.ts` declares the same API for TypeScript.

const { existsSync } = require('node:fs');
const { join } = require('node:path');

/** The addon `napi build --platform` writes, or the one named by `ENTITLE_NODE_ADDON`. */
function loadAddon() {
  if (process.env.ENTITLE_NODE_ADDON) {
    return require(process.env.ENTITLE_NODE_ADDON);
  }
  // `napi build --platform` names the file by platform, architecture and, on Linux, C library.
  const platform = `${process.platform}-${process.arch}`;
  const names = process.platform === 'linux' ? [`${platform}-gnu`, `${platform}-musl`] : [platform];
  const candidates = [...names.map((name) => `entitle.${name}.node`), 'entitle.node'];
  for (const file of candidates) {
    const path = join(__dirname, file);
    if (existsSync(path)) {
      return require(path);
    }
  }
  throw new Error(
    `entitle: no native addon for ${process.platform}-${process.arch} in ${__dirname} (looked for ${candidates.join(', ')}); ` +
      'build it with `npm run build` (needs a Rust toolchain)',
  );
}

const addon = loadAddon();

/** The value of an amount with no bound, as in the JSON answers of `entitle eval`. */
const UNLIMITED = 'unlimited';
const U64_MAX = (1n << 64n) - 1n;
const U32_MAX = 0xffffffff;

/** A call failed for a reason other than the answer: `code` says which (`io`, `bundle`, …). */
class EntitleError extends Error {
  constructor(message, code) {
    super(message);
    this.name = 'EntitleError';
    this.code = code;
  }
}

/** A policy does not check; `diagnostics` lists every problem, each with its location. */
class PolicyError extends EntitleError {
  constructor(message, diagnostics) {
    super(message, 'policy');
    this.name = 'PolicyError';
    this.diagnostics = diagnostics;
  }
}

/** A question whose tier, add-on or item is unknown (or that holds too many add-ons), where
 * the answer has no "denied" to carry the reason (settings). */
class UnknownNameError extends EntitleError {
  constructor(message, reason) {
    super(message, 'unknown');
    this.name = 'UnknownNameError';
    this.reason = reason;
  }
}

function describe(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Date) return 'a Date';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return `${typeof value} ${String(value)}`;
  return typeof value;
}

function typeError(parameter, takes, value) {
  return new TypeError(`entitle: \`${parameter}\` must be ${takes}, not ${describe(value)}`);
}

/** The native load error (a JSON message) as the JavaScript error it stands for. */
function loadError(error) {
  let info;
  try {
    info = JSON.parse(error.message);
  } catch {
    return error;
  }
  if (info.kind === 'policy') {
    const diagnostics = (info.diagnostics || []).map((d) =>
      Object.freeze({
        code: d.code,
        severity: d.severity,
        message: d.message,
        file: d.file,
        line: d.line,
        column: d.column,
        endLine: d.end_line,
        endColumn: d.end_column,
        help: d.help ?? null,
      }),
    );
    return new PolicyError(info.message, Object.freeze(diagnostics));
  }
  return new EntitleError(info.message, info.kind);
}

function load(make) {
  try {
    return new Engine(NEW, make());
  } catch (error) {
    throw loadError(error);
  }
}

function loadOverrides(make) {
  try {
    return new Overrides(NEW, make());
  } catch (error) {
    throw loadError(error);
  }
}

function isId(value) {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= U32_MAX;
}

const NAME_OR_ID = 'a name (string) or an id (an integer from 0 to 4294967295)';
const AMOUNT = 'a whole number from 0 to 2^53 − 1, or a bigint from 0n to 2^64 − 1';

/** A name or an id, checked. */
function named(parameter, value) {
  if (typeof value === 'string' || isId(value)) return value;
  throw typeError(parameter, NAME_OR_ID, value);
}

/** The length of a list, read once: an array's always is a length, a Proxy's may be anything. */
function lengthOf(parameter, values) {
  const n = values.length;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > U32_MAX) {
    throw typeError(`${parameter}.length`, 'an array length (an integer from 0 to 4294967295)', n);
  }
  return n;
}

/** The amounts of a call about several limits, as decimal text: one for each of `n` limits,
 * or `0` for each when `given` is left out. Another length is a `RangeError`, never cut to
 * the shorter. */
function amountList(parameter, given, n) {
  const amounts = new Array(n);
  if (given === undefined) return amounts.fill('0');
  if (!Array.isArray(given)) throw typeError(parameter, `an array of amounts, one for each limit (${AMOUNT})`, given);
  if (given.length !== n) {
    throw new RangeError(`entitle: \`${parameter}\` has ${given.length} amounts for ${n} limits; give one for each limit, or none for 0 each`);
  }
  // The item's name is only built for the error.
  for (let i = 0; i < n; i += 1) {
    const value = given[i];
    const text = amountText(value);
    if (text === undefined) throw typeError(`${parameter}[${i}]`, AMOUNT, value);
    amounts[i] = text;
  }
  return amounts;
}

/** A list of names or ids, each checked: a copy of it, each item read once, which is what
 * the addon reads. Handing the addon the list itself would read each item again, and a getter
 * (a Proxy's, say) could then give it something other than what was checked. */
function namedList(parameter, values) {
  if (!Array.isArray(values)) throw typeError(parameter, `an array, each item ${NAME_OR_ID}`, values);
  const n = lengthOf(parameter, values);
  // Grown item by item, not made at the length up front: a long list that is refused makes
  // no more than it had read.
  const list = [];
  // A hole reads as undefined here, and is refused as one. The item's name is only built
  // for the error: building it for each item cost more than the answers.
  for (let i = 0; i < n; i += 1) {
    const value = values[i];
    if (typeof value !== 'string' && !isId(value)) throw typeError(`${parameter}[${i}]`, NAME_OR_ID, value);
    list.push(value);
  }
  return list;
}

const HELD_FIELDS = ['addon', 'quantity', 'acquired'];
const HELD = `${NAME_OR_ID}, or an object { addon, quantity?, acquired? }`;

/** A request's `addons`, each item read once and checked: a name or an id, held once, or an
 * object `{ addon, quantity?, acquired? }` (quantity an amount, 1 by default; acquired whole
 * Unix seconds or a Date). The names and ids the addon reads, what the request keeps (each
 * object as a frozen copy, its instant in seconds), and, when any item is an object, each
 * item's quantity (decimal text) and acquisition (seconds, or null). */
function heldList(values) {
  if (!Array.isArray(values)) throw typeError('addons', `an array, each item ${HELD}`, values);
  const n = lengthOf('addons', values);
  const addons = [];
  const kept = [];
  let quantities = null;
  let acquired = null;
  for (let i = 0; i < n; i += 1) {
    const value = values[i];
    if (typeof value === 'string' || isId(value)) {
      addons.push(value);
      kept.push(value);
      if (quantities !== null) {
        quantities.push('1');
        acquired.push(null);
      }
      continue;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Date) {
      throw typeError(`addons[${i}]`, HELD, value);
    }
    for (const field of Object.keys(value)) {
      if (!HELD_FIELDS.includes(field)) {
        throw new TypeError(`entitle: \`addons[${i}]\` has the field \`${field}\`; an add-on object takes \`addon\`, \`quantity\` and \`acquired\``);
      }
    }
    const { addon: name, quantity = 1, acquired: at = null } = value;
    named(`addons[${i}].addon`, name);
    const text = amountText(quantity);
    if (text === undefined) throw typeError(`addons[${i}].quantity`, AMOUNT, quantity);
    const instant = at === null || at === undefined ? null : seconds(at, `addons[${i}].acquired`);
    if (quantities === null) {
      // The items before this one were names or ids, each held once.
      quantities = addons.map(() => '1');
      acquired = addons.map(() => null);
    }
    addons.push(name);
    quantities.push(text);
    acquired.push(instant);
    kept.push(frozen({ addon: name, quantity, acquired: instant }));
  }
  return { addons, kept, quantities, acquired };
}

// The typed arrays a list of features crosses into the addon in (its ids, and the places of
// its names) and its answers come back in: made once and grown as needed (each module
// instance, so each thread, has its own), since making a typed array costs more than
// answering a page of questions. All three have the same length, which is never more than
// `SCRATCH_MAX` items: a longer list is laid out in arrays of its own, dropped after its call,
// so that one long list does not hold its memory for the life of the module.
const SCRATCH_MAX = 4096;
let idScratch = new Uint32Array(64);
let nameAtScratch = new Uint32Array(64);
let answerScratch = new Uint32Array(64);
// Whether a list is being read into the arrays above, or answered from them. An item (or the
// length) is read through any getter the list has (a Proxy's, say), which could call a batch
// call again and overwrite what the outer call has laid out; such a call is refused before it
// writes anything, and the flag stays set until the outer call's answers are copied out, so no
// answer is ever computed from another call's ids.
let readingList = false;

/** Checks a list of features, lays it out for the addon (see `layOut`) and gives the layout
 * to `answer`, whose result it returns; no other batch call can use the arrays of the layout
 * until `answer` has returned. */
function featureList(parameter, values, answer) {
  if (!Array.isArray(values)) throw typeError(parameter, `an array, each item ${NAME_OR_ID}`, values);
  if (readingList) {
    throw new EntitleError(`entitle: \`${parameter}\` was read by a batch call from inside another batch call's list`, 'reentered');
  }
  readingList = true;
  try {
    return answer(layOut(parameter, values));
  } finally {
    readingList = false;
  }
}

/** A Uint32Array of `length` items, starting with those of `array`. */
function grown(array, length) {
  const bigger = new Uint32Array(length);
  bigger.set(array);
  return bigger;
}

/** A list of features laid out for the addon: `count` items (the list's length, read once),
 * each id at its place in `ids`, each name's place in `nameAt`, the names themselves in one
 * string, each ended by a NUL (which no feature's name holds, so a name that does is given as
 * the empty name, unknown alike): one string crosses in far less than one per name; and
 * `answers`, which holds `count` answers. */
function layOut(parameter, values) {
  const n = lengthOf(parameter, values);
  // The arrays grow as items are read and found good, not to the length up front: a list that
  // is refused allocates no more than it had read.
  let ids = idScratch;
  let nameAt = nameAtScratch;
  let names = '';
  let count = 0;
  // A hole reads as undefined here, and is refused as one. The item's name is only built for
  // the error: building it for each item cost more than the answers.
  for (let i = 0; i < n; i += 1) {
    const value = values[i];
    if (i === ids.length) {
      // Both grow together: a name's place is never past the item's.
      const length = Math.min(n, ids.length * 2);
      ids = grown(ids, length);
      nameAt = grown(nameAt, length);
    }
    if (isId(value)) {
      ids[i] = value;
    } else if (typeof value === 'string') {
      nameAt[count] = i;
      count += 1;
      names += value.includes('\0') ? '\0' : `${value}\0`;
    } else {
      throw typeError(`${parameter}[${i}]`, NAME_OR_ID, value);
    }
  }
  let answers = answerScratch;
  if (ids !== idScratch) {
    if (n <= SCRATCH_MAX) {
      // Grown no further than `n`, so within the bound: kept for the calls to come.
      idScratch = ids;
      nameAtScratch = nameAt;
      answerScratch = new Uint32Array(ids.length);
      answers = answerScratch;
    } else {
      answers = new Uint32Array(n);
    }
  }
  return { count: n, ids, names, nameAt, answers };
}


/** An amount in, as the decimal text the addon reads, or undefined when it is not one. */
function amountText(value) {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return String(value);
  if (typeof value === 'bigint' && value >= 0n && value <= U64_MAX) return value.toString();
  return undefined;
}

/** An amount in, checked; an absent one is 0 where `optional`. */
function count(parameter, value, optional = true) {
  if (value === undefined && optional) return '0';
  const text = amountText(value);
  if (text === undefined) throw typeError(parameter, AMOUNT, value);
  return text;
}

/** An amount out: a number when it is exact as one, else a bigint; `"unlimited"` as is. */
function amount(text) {
  if (text === UNLIMITED) return UNLIMITED;
  const n = BigInt(text);
  return n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
}

function seconds(now, parameter = 'now') {
  if (typeof now === 'number') {
    if (Number.isSafeInteger(now)) return now;
  } else if (now instanceof Date) {
    const ms = now.getTime();
    if (Number.isFinite(ms)) return Math.floor(ms / 1000);
  }
  throw typeError(parameter, 'whole Unix seconds (a safe integer) or a valid Date', now);
}

function frozen(object) {
  return Object.freeze(object);
}

/** Every reason's name at its number. */
const REASONS = addon.reasonNames();
/** The frozen decision of each code the addon answers (`reason << 1 | allowed`), made once:
 * there are only twice as many as there are reasons, and a frozen answer may be shared. */
const DECISIONS = [];

function decision(code) {
  return (DECISIONS[code] ??= frozen({ allowed: (code & 1) === 1, reason: REASONS[code >>> 1] }));
}

function quota(q) {
  return frozen({
    allowed: q.allowed,
    reason: q.reason,
    status: q.status,
    limit: amount(q.limit),
    softCap: q.softCap === undefined || q.softCap === null ? null : amount(q.softCap),
    remaining: amount(q.remaining),
    seats: q.seats === undefined || q.seats === null ? null : amount(q.seats),
    window:
      q.windowStart === undefined || q.windowStart === null
        ? null
        : frozen({ start: q.windowStart, end: q.windowEnd, rolling: q.windowRolling === true }),
    overridden: q.overridden === true,
  });
}

/** A setting's native answer as `settingValue` returns it. */
function settingAnswer(found, setting) {
  if (found.reason) {
    throw new UnknownNameError(`entitle: no value for setting \`${setting}\`: ${found.reason}`, found.reason);
  }
  if (found.kind === undefined || found.kind === null) return null;
  const value = found.kind === 'string' ? found.value : amount(found.value);
  return frozen({ kind: found.kind, value, display: found.display });
}

// Only this module makes engines and requests.
const NEW = Symbol('entitle.new');

/** The native request of `request`, when `engine` made it; set by `Request`, which alone can
 * read its private fields, and reachable only from this module. */
let handleOf;
/** The native engine of an `Engine` argument, checked; set by `Engine`. */
let engineOf;
/** The native set of an `overrides` argument (an `Overrides`, or null or undefined for none),
 * checked; set by `Overrides`. */
let overridesOf;

/** A checked set of per-customer overrides (JSON Lines records), for the engine it was
 * checked against: load it with `Overrides.fromJsonl` or `Overrides.fromPath` and give it to
 * `engine.request({ …, overrides })` or `engine.queryJson(line, overrides)`. Immutable; a
 * set given to an engine of another policy answers `overrides_not_for_engine`. */
class Overrides {
  #native;

  constructor(token, native) {
    if (token !== NEW) throw new TypeError('entitle: load Overrides with Overrides.fromJsonl or fromPath');
    this.#native = native;
    Object.freeze(this);
  }

  static {
    overridesOf = (overrides) => {
      if (overrides === null || overrides === undefined) return null;
      if (!(overrides instanceof Overrides)) throw typeError('overrides', 'an Overrides (or null)', overrides);
      return overrides.#native;
    };
  }

  /** Reads and checks JSON Lines records against `engine`; throws `PolicyError` with every
   * diagnostic, each at its record's line (`name` is how they cite the text). */
  static fromJsonl(engine, text, name = '<overrides>') {
    const native = engineOf(engine);
    if (typeof text !== 'string') throw typeError('text', 'JSON Lines override records (a string)', text);
    if (typeof name !== 'string') throw typeError('name', 'a string', name);
    return loadOverrides(() => addon.overridesFromJsonl(native, text, name));
  }

  /** Reads and checks the JSON Lines file at `path` against `engine`; throws `PolicyError`,
   * or `EntitleError` with code `io` for a file that cannot be read. */
  static fromPath(engine, path) {
    const native = engineOf(engine);
    if (typeof path !== 'string') throw typeError('path', 'a path (a string)', path);
    return loadOverrides(() => addon.overridesFromPath(native, path));
  }

  /** How many records the set holds. */
  get size() {
    return addon.overridesLen(this.#native);
  }

  /** How many subjects have records. */
  get subjectCount() {
    return addon.overridesSubjectCount(this.#native);
  }

  /** The SHA-256 of the policy the set was checked against, as 64 hex digits. */
  get policyHash() {
    return addon.overridesPolicyHash(this.#native);
  }

  /** The name the set was read under, as its diagnostics cite it. */
  get name() {
    return addon.overridesName(this.#native);
  }

  /** The subject keys that have records, sorted. */
  subjects() {
    return addon.overridesSubjects(this.#native);
  }

  /** Every record of subject `key`, in its JSON Lines fields, in the order the set keeps
   * them (by what they change, then by start); empty when the subject has none. */
  records(key) {
    if (typeof key !== 'string') throw typeError('key', 'a subject key (a string)', key);
    return frozen(
      addon.overridesRecords(this.#native, key).map((r) =>
        frozen({
          subject: r.subject,
          op: r.op,
          feature: r.feature ?? null,
          limit: r.limit ?? null,
          setting: r.setting ?? null,
          value: r.amount !== undefined && r.amount !== null ? amount(r.amount) : r.value ? settingAnswer(r.value, r.setting) : null,
          perSeat: r.perSeat,
          from: r.from ?? null,
          until: r.until ?? null,
          reason: r.reason,
          author: r.author,
          line: r.line,
        }),
      ),
    );
  }
}

/** Who is asking and when. Made by `engine.request()`; immutable, and answered only by the
 * engine that made it. */
class Request {
  #engine;
  #native;

  constructor(token, engine, native, fields) {
    if (token !== NEW) throw new TypeError('entitle: make a Request with engine.request({ tier, now, … })');
    this.#engine = engine;
    this.#native = native;
    this.tier = fields.tier;
    this.key = fields.key;
    this.addons = frozen(fields.addons);
    this.seats = fields.seats;
    this.billingAnchor = fields.billingAnchor;
    this.now = fields.now;
    this.overrides = fields.overrides;
    Object.freeze(this);
  }

  static {
    handleOf = (request, engine) => {
      if (!(request instanceof Request)) {
        throw typeError('request', 'a Request made by engine.request()', request);
      }
      if (request.#engine !== engine) {
        throw new TypeError('entitle: `request` was made by another engine; make it with this engine\'s request()');
      }
      return request.#native;
    };
  }
}

/** A compiled policy: load it once with `fromPath`, `fromSource` or `fromBundle`, then ask. */
class Engine {
  #native;

  constructor(token, native) {
    if (token !== NEW) throw new TypeError('entitle: load an Engine with Engine.fromPath, fromSource or fromBundle');
    this.#native = native;
    Object.freeze(this);
  }

  static {
    engineOf = (engine) => {
      if (!(engine instanceof Engine)) throw typeError('engine', 'an Engine', engine);
      return engine.#native;
    };
  }

  /** Parses, checks and compiles policy text; throws `PolicyError` with every diagnostic. */
  static fromSource(text, name = '<string>') {
    if (typeof text !== 'string') throw typeError('text', 'policy text (a string)', text);
    if (typeof name !== 'string') throw typeError('name', 'a string', name);
    return load(() => addon.engineFromSource(text, name));
  }

  /** Reads a policy file (or a compiled bundle); throws `PolicyError` or `EntitleError`. */
  static fromPath(path) {
    if (typeof path !== 'string') throw typeError('path', 'a path (a string)', path);
    return load(() => addon.engineFromPath(path));
  }

  /** Loads a compiled bundle (`entitle build`); throws `EntitleError` with code `bundle`. */
  static fromBundle(bytes) {
    if (!(bytes instanceof Uint8Array)) throw typeError('bytes', 'a Buffer or Uint8Array', bytes);
    const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return load(() => addon.engineFromBundle(buffer));
  }

  /** The SHA-256 of the policy's source, as 64 hex digits. */
  get policyHash() {
    return addon.enginePolicyHash(this.#native);
  }

  /** The id of a tier, or `null` when the policy declares none of that name. */
  tier(name) {
    return addon.engineTier(this.#native, lookup(name)) ?? null;
  }

  /** The id of a feature, or `null`. */
  feature(name) {
    return addon.engineFeature(this.#native, lookup(name)) ?? null;
  }

  /** The id of a limit, or `null`. */
  limit(name) {
    return addon.engineLimit(this.#native, lookup(name)) ?? null;
  }

  /** The id of an add-on, or `null`. */
  addon(name) {
    return addon.engineAddon(this.#native, lookup(name)) ?? null;
  }

  /** The id of a setting, or `null`. */
  setting(name) {
    return addon.engineSetting(this.#native, lookup(name)) ?? null;
  }

  /** Who is asking and when. Build it once and reuse it. */
  request(options) {
    if (options === null || typeof options !== 'object' || Array.isArray(options)) {
      throw typeError('options', 'an object such as { tier, now }', options);
    }
    const { tier, key = '', addons = [], seats = null, billingAnchor = 1, now, overrides = null } = options;
    named('tier', tier);
    if (typeof key !== 'string') throw typeError('key', 'a string', key);
    // Read once into a checked copy: a getter or Proxy could give the addon other items on a
    // second read than the ones checked.
    const held = heldList(addons);
    const seatCount = seats === null || seats === undefined ? null : amountText(seats);
    if (seatCount === undefined) throw typeError('seats', `a seat count (${AMOUNT}), or null`, seats);
    if (typeof billingAnchor !== 'number' || !Number.isInteger(billingAnchor)) {
      throw typeError('billingAnchor', 'a day of the month (an integer from 1 to 31)', billingAnchor);
    }
    if (billingAnchor < 1 || billingAnchor > 31) {
      throw new RangeError(`entitle: \`billingAnchor\` is ${billingAnchor}, not a day from 1 to 31`);
    }
    if (now === undefined) throw typeError('now', 'whole Unix seconds (a safe integer) or a valid Date', now);
    const at = seconds(now);
    const set = overridesOf(overrides);
    const handle = addon.request(this.#native, tier, key, held.addons, held.quantities, held.acquired, seatCount, billingAnchor, at, set);
    const given = seatCount === null ? null : seats;
    const fields = { tier, key, addons: held.kept, seats: given, billingAnchor, now: at, overrides: set === null ? null : overrides };
    return new Request(NEW, this, handle, fields);
  }

  /** Whether the subject may use `feature` (a name or an id); `decide` says why. */
  isAllowed(request, feature) {
    const native = handleOf(request, this);
    if (isId(feature)) return addon.isAllowedId(this.#native, native, feature);
    return addon.isAllowedName(this.#native, native, named('feature', feature));
  }

  /** `isAllowed` for many features (names or ids) in one call: an array of booleans in the
   * same order, each what `isAllowed` answers. */
  isAllowedMany(request, features) {
    const native = handleOf(request, this);
    const engine = this.#native;
    return featureList('features', features, ({ count: n, ids, names, nameAt, answers: out }) => {
      addon.isAllowedMany(engine, native, ids, n, names, nameAt, out);
      const answers = new Array(n);
      for (let i = 0; i < n; i += 1) answers[i] = out[i] === 1;
      return answers;
    });
  }

  /** `decide` for many features (names or ids) in one call: an array of `{ allowed, reason }`
   * in the same order, each what `decide` answers. */
  decideMany(request, features) {
    const native = handleOf(request, this);
    const engine = this.#native;
    return featureList('features', features, ({ count: n, ids, names, nameAt, answers: out }) => {
      addon.decideMany(engine, native, ids, n, names, nameAt, out);
      const answers = new Array(n);
      for (let i = 0; i < n; i += 1) answers[i] = decision(out[i]);
      return answers;
    });
  }

  /** Whether the subject may use `feature`, and why: `{ allowed, reason }`. */
  decide(request, feature) {
    const native = handleOf(request, this);
    return decision(addon.decide(this.#native, native, named('feature', feature)));
  }

  /** How much of `limit` is left given `used`, and whether `requested` more may be used. */
  checkLimit(request, limit, used, requested) {
    const native = handleOf(request, this);
    const answer = addon.checkLimit(this.#native, native, named('limit', limit), count('used', used), count('requested', requested));
    return quota(answer);
  }

  /** `checkLimit` for a limit that may draw on a pool: `used` is the pool's use and
   * `requested` is in the limit's own units. Returns `{ quota, pool, cost, remainingUnits }`:
   * the pool's answer (what `checkLimit` answers), the pool's name, what the request costs
   * it (rounded up) and how many of the limit's units what is left pays for (rounded down).
   * A limit that draws on nothing is its own pool at 1 per 1. */
  checkDraw(request, limit, used, requested) {
    const native = handleOf(request, this);
    const draw = addon.checkDraw(this.#native, native, named('limit', limit), count('used', used), count('requested', requested));
    return frozen({ quota: quota(draw.quota), pool: draw.pool ?? null, cost: amount(draw.cost), remainingUnits: amount(draw.remainingUnits) });
  }

  /** The name of the pool `limit` draws on, or `null` for a limit that draws on nothing
   * (or an unknown one). */
  pool(limit) {
    return addon.poolOf(this.#native, named('limit', limit)) ?? null;
  }

  /** `checkLimit` for many limits (names or ids) in one call: `used[i]` is the use of
   * `limits[i]` (no `used` at all: 0 for each), nothing more is requested; an array of quotas
   * in the same order, each what `checkLimit` answers. A `used` of another length than
   * `limits` is a `RangeError`, never cut to the shorter. */
  checkLimitMany(request, limits, used) {
    const native = handleOf(request, this);
    // The checked copies, not the caller's arrays, cross into the addon: each item and each
    // length is read once, so the answers are for the values checked.
    const checked = namedList('limits', limits);
    const amounts = amountList('used', used, checked.length);
    return addon.checkLimitMany(this.#native, native, checked, amounts).map(quota);
  }

  /** One request against several limits (a per-second burst, a daily cap, a monthly
   * allowance): `used[i]` and `requested[i]` are those of `limits[i]` (either left out: 0 for
   * each). Returns `{ allowed, binding, answers }`: `answers[i]` is what `checkLimit` answers
   * for `limits[i]`, `allowed` is whether every limit allows the request, and `binding` the
   * index of the answer that decides it, the first of the worst outcome (the first deny;
   * with none, the first in overage, then at a warning, then the first), `null` for no
   * limits. A `used` or `requested` of another length than `limits` is a `RangeError`. */
  checkLimits(request, limits, used, requested) {
    const native = handleOf(request, this);
    const checked = namedList('limits', limits);
    const n = checked.length;
    const batch = addon.checkLimits(this.#native, native, checked, amountList('used', used, n), amountList('requested', requested, n));
    const answers = frozen(batch.answers.map(quota));
    return frozen({ allowed: answers.every((q) => q.allowed), binding: batch.binding ?? null, answers });
  }

  /** A setting's value for the subject: `{ kind, value, display }`, or `null` when nothing
   * sets it. Throws `UnknownNameError` (with `reason`) for an unknown tier, add-on or setting,
   * or too many add-ons. */
  settingValue(request, setting) {
    const native = handleOf(request, this);
    return settingAnswer(addon.settingValue(this.#native, native, named('setting', setting)), setting);
  }

  /** Everything the subject is entitled to, as an account page shows it: `{ features,
   * limits, settings }`, each an object keyed by name whose values are what `decide`,
   * `checkLimit` (given `usage[name]`, 0 where absent) and `settingValue` answer, as
   * `entitle eval` answers an entitlements query: when the request's tier or an add-on is
   * unknown (or there are too many add-ons), every answer is a deny with that reason, a
   * setting's `{ allowed: false, reason }`. Throws `UnknownNameError` when `usage` names no
   * limit of the policy. */
  entitlements(request, usage = {}) {
    const native = handleOf(request, this);
    if (usage === null || typeof usage !== 'object' || Array.isArray(usage)) {
      throw typeError('usage', 'an object of amounts by limit name', usage);
    }
    const ids = [];
    const amounts = [];
    for (const [name, used] of Object.entries(usage)) {
      const id = addon.engineLimit(this.#native, name);
      if (id === null) {
        throw new UnknownNameError(`entitle: \`usage\` names \`${name}\`, which is not a limit of this policy`, 'unknown_limit');
      }
      ids.push(id);
      amounts.push(count(`usage.${name}`, used));
    }
    const all = addon.entitlements(this.#native, native, ids, amounts);
    const byName = (names, answers, shape) => frozen(Object.fromEntries(names.map((name, i) => [name, shape(answers[i], name)])));
    return frozen({
      features: byName(all.featureNames, all.features, frozen),
      limits: byName(all.limitNames, all.limits, quota),
      settings: byName(all.settingNames, all.settings, (found, name) =>
        found.reason ? frozen({ allowed: false, reason: found.reason }) : settingAnswer(found, name),
      ),
    });
  }

  /** The decision with the rules behind it: `{ answer, explain: { steps, upgrade } }`. */
  explainFeature(request, feature) {
    const native = handleOf(request, this);
    return JSON.parse(addon.explainFeature(this.#native, native, named('feature', feature)));
  }

  /** The quota with the rules behind it: `{ answer, explain: { steps, upgrade } }` (the
   * answer in the JSON shape of `entitle eval`). */
  explainLimit(request, limit, used, requested) {
    const native = handleOf(request, this);
    return JSON.parse(addon.explainLimit(this.#native, native, named('limit', limit), count('used', used), count('requested', requested)));
  }

  /** One query line of the `entitle eval` JSON Lines protocol in, one answer line out, with
   * the records of `overrides` (an `Overrides`, or null) for the query's `key` applied. */
  queryJson(line, overrides = null) {
    if (typeof line !== 'string') throw typeError('line', 'one JSON query line (a string)', line);
    return addon.queryJson(this.#native, line, overridesOf(overrides));
  }
}

function lookup(name) {
  if (typeof name !== 'string') throw typeError('name', 'a string', name);
  return name;
}

module.exports = { Engine, Request, Overrides, EntitleError, PolicyError, UnknownNameError, UNLIMITED };
// For the tests alone, not the API: how many items the shared list buffers hold.
Object.defineProperty(module.exports, Symbol.for('entitle.scratchLength'), { value: () => idScratch.length });
