//! The Lua scripts the meter runs on Redis, one per call, each deciding and recording on the
//! server in one atomic step.

/// What every script that reads holds shares: `expire_holds` ends the live holds whose expiry
/// is at or before `now` (their amounts leave `held`), and `forget_holds` drops the settled
/// ones whose memory ran out; `keep_until` makes keys live at least until an instant (it
/// needs `EXPIRETIME`, Redis 7); `record_usage` adds to a counter, keeps it for its window and
/// raises the subject's latest window to it.
macro_rules! holds_prelude {
    () => {
        r"
local function fields(record)
  local out = {}
  for field in string.gmatch(record, '[^:]+') do
    out[#out + 1] = field
  end
  return out
end
local function record_usage(counter, latest, amount, expire_at, start)
  redis.call('INCRBY', counter, amount)
  if expire_at ~= '0' then
    redis.call('EXPIREAT', counter, expire_at)
    local seen = redis.call('GET', latest)
    if not seen or tonumber(start) > tonumber(seen) then
      redis.call('SET', latest, start)
      redis.call('EXPIREAT', latest, expire_at)
    end
  end
end
-- What a refund of call number `seq` answers when its session already saw it: the result it
-- gave, `{-1, 0}` for a call older than the session's latest, and nil for a new call.
local function refund_seen(session, seq)
  local latest = redis.call('HMGET', session, 'seq', 'result')
  local seen = tonumber(latest[1] or '0')
  if seq == seen then
    local done, back = string.match(latest[2], '^(%d+):(%d+)$')
    return {tonumber(done), tonumber(back)}
  end
  if seq < seen then
    return {-1, 0}
  end
  return nil
end
-- The usage of a rolling window's buckets `keys`, read in one call.
local function bucket_sum(keys)
  local sum = 0
  for _, used in ipairs(redis.call('MGET', unpack(keys))) do
    if used then sum = sum + tonumber(used) end
  end
  return sum
end
local function forget_holds(holds, done, now)
  local gone = redis.call('ZRANGEBYSCORE', done, '-inf', now)
  for _, id in ipairs(gone) do
    redis.call('HDEL', holds, id)
  end
  if #gone > 0 then
    redis.call('ZREMRANGEBYSCORE', done, '-inf', now)
  end
end
local function keep_until(keys, at)
  local now = tonumber(redis.call('TIME')[1])
  if at <= now then at = now + 1 end
  local ttl = {}
  for i, key in ipairs(keys) do
    ttl[i] = redis.call('EXPIRETIME', key)
    if ttl[i] > at then at = ttl[i] end
  end
  for i, key in ipairs(keys) do
    if ttl[i] ~= -2 and ttl[i] ~= at then
      redis.call('EXPIREAT', key, at)
    end
  end
end
-- A subject's grants on one limit: a hash of id to `amount:spent:starts:expires:priority:seq:spent_at`
-- (the field '' holds the next seq, and no grant has that id). `grants_live` lists the grants
-- live at `now`, in draw order, with what they hold in all.
local function grants_live(key, now)
  local live, available = {}, 0
  if redis.call('EXISTS', key) == 0 then
    return live, 0
  end
  local all = redis.call('HGETALL', key)
  for i = 1, #all, 2 do
    if all[i] ~= '' then
      local a, s, st, ex, pr, sq, at = string.match(all[i + 1], '^(%d+):(%d+):(%-?%d+):(%-?%d+):(%d+):(%d+):(%-?%d+)$')
      if a and tonumber(st) <= now and now < tonumber(ex) then
        local g = {id = all[i], a = tonumber(a), s = tonumber(s), st = st, ex = ex, pr = tonumber(pr),
          sq = tonumber(sq), at = at, stn = tonumber(st), exn = tonumber(ex)}
        live[#live + 1] = g
        available = available + g.a - g.s
      end
    end
  end
  table.sort(live, function(x, y)
    if x.pr ~= y.pr then return x.pr > y.pr end
    if x.exn ~= y.exn then return x.exn < y.exn end
    if x.stn ~= y.stn then return x.stn < y.stn end
    return x.sq < y.sq
  end)
  return live, available
end
local function grant_write(key, g)
  redis.call('HSET', key, g.id, string.format('%d:%d:', g.a, g.s) .. g.st .. ':' .. g.ex ..
    string.format(':%d:%d:', g.pr, g.sq) .. g.at)
end
-- Spends `amount` of `live` in order at `now`; returns `seq=amount` pairs for the undo list.
local function grants_spend(key, live, amount, now)
  local undo = {}
  for _, g in ipairs(live) do
    if amount <= 0 then break end
    local take = math.min(amount, g.a - g.s)
    if take > 0 then
      g.s = g.s + take
      g.at = now
      grant_write(key, g)
      undo[#undo + 1] = string.format('%d=%d', g.sq, take)
      amount = amount - take
    end
  end
  return table.concat(undo, ',')
end
-- Gives back up to `amount` to `live`, the last in draw order first; returns what was given
-- back and `seq=-amount` pairs for the undo list.
local function grants_give_back(key, live, amount)
  local undo, back = {}, 0
  for i = #live, 1, -1 do
    if amount <= 0 then break end
    local g = live[i]
    local give = math.min(amount, g.s)
    if give > 0 then
      g.s = g.s - give
      grant_write(key, g)
      undo[#undo + 1] = string.format('%d=-%d', g.sq, give)
      amount = amount - give
      back = back + give
    end
  end
  return back, table.concat(undo, ',')
end
local function expire_holds(holds, live, done, now, remember)
  local gone = redis.call('ZRANGEBYSCORE', live, '-inf', now, 'WITHSCORES')
  local last = nil
  for i = 1, #gone, 2 do
    local id = gone[i]
    local record = redis.call('HGET', holds, id)
    local amount = record and string.match(record, '^L:(%d+):')
    if amount then
      redis.call('HINCRBY', holds, 'held', -tonumber(amount))
      redis.call('HSET', holds, id, 'E:' .. amount .. ':0:0')
      local forget = tonumber(gone[i + 1]) + remember
      redis.call('ZADD', done, forget, id)
      if not last or forget > last then last = forget end
    end
  end
  if #gone > 0 then
    redis.call('ZREMRANGEBYSCORE', live, '-inf', now)
  end
  if last then
    keep_until({holds, live, done}, last)
  end
end
"
    };
}

/// Decides and records one call. KEYS: the counter, the connection slot's session for the
/// subject's hash slot, the subject's latest window of the limit (all three share one hash
/// tag, so one slot of a cluster holds them), then the counter's holds and their expiries (see
/// `RESERVE`), the subject's grants and what they paid in the window, and for a rolling
/// window the other buckets that count (the counter is the bucket of the request's instant,
/// the one recorded on; see `meter/rolling.rs`), whose usage counts as used. ARGV: the call's sequence number on its slot, the amount, the ceiling (-1 for
/// none), the counter's expiry (0 for none, and then no window), its window's start, the
/// caller's clock (for the holds' expiry), the session's lifetime in milliseconds.
///
/// Live holds count as used: the answer is `{allowed, used, held}`.
///
/// A counter that starts raises the latest window to its own, so that `REFUND` can tell a
/// window the subject has moved on from.
///
/// The session remembers the latest call the connection slot made for subjects of this hash
/// slot, and its result. A slot's calls are numbered in order, so each session sees a rising
/// sequence: the same call sent again (a retry after a lost reply, or the first copy
/// arriving after its retry) returns that result and applies nothing, and a call older than
/// the session's latest is never applied (`{-1, 0}`).
pub(super) const CONSUME: &str = concat!(
    holds_prelude!(),
    r"
local seq = tonumber(ARGV[1])
local latest = redis.call('HMGET', KEYS[2], 'seq', 'result')
local seen = tonumber(latest[1] or '0')
if seq == seen then
  local allowed, used, held, paid, left = string.match(latest[2], '^(%d+):(%d+):(%d+):(%d+):(%d+)$')
  return {tonumber(allowed), tonumber(used), tonumber(held), tonumber(paid), tonumber(left)}
end
if seq < seen then
  return {-1, 0, 0, 0, 0}
end
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
-- A rolling window's other buckets that count, after the eight keys: one read of them all.
if #KEYS > 8 then
  used = used + bucket_sum({unpack(KEYS, 9)})
end
local held = 0
if redis.call('EXISTS', KEYS[4]) == 1 then
  expire_holds(KEYS[4], KEYS[5], KEYS[6], tonumber(ARGV[6]), tonumber(ARGV[7]))
  held = tonumber(redis.call('HGET', KEYS[4], 'held') or '0')
end
local amount = tonumber(ARGV[2])
local ceiling = tonumber(ARGV[3])
local plan = tonumber(ARGV[8])
local now = tonumber(ARGV[9])
local live, available = grants_live(KEYS[7], now)
-- What the grants pay: past the plan's limit, what they hold of the rest.
local from, need = 0, 0
if plan >= 0 and used + held + amount > plan and available > 0 then
  need = amount - math.max(0, plan - used - held)
  from = math.min(need, available)
end
local part = amount - from
local allowed = 1
if from > 0 and from == need then
  -- Grants that cover all past the plan leave the plan's part within its limit.
  allowed = 1
elseif ceiling >= 0 and used + held + part > ceiling then
  allowed = 0
  from = 0
end
local spent = ''
if allowed == 1 and from > 0 then
  spent = grants_spend(KEYS[7], live, from, ARGV[9])
  redis.call('INCRBY', KEYS[8], from)
  if ARGV[4] ~= '0' then
    redis.call('EXPIREAT', KEYS[8], ARGV[4])
  end
end
if allowed == 1 and part > 0 then
  redis.call('INCRBY', KEYS[1], part)
  if ARGV[4] ~= '0' then
    redis.call('EXPIREAT', KEYS[1], ARGV[4])
  end
end
-- A window used (by the plan or by grants alone) raises the latest window, so that a refund
-- stamped in an earlier one gives back nothing.
if allowed == 1 and amount > 0 and used == 0 and ARGV[4] ~= '0' then
  local latest = redis.call('GET', KEYS[3])
  if not latest or tonumber(ARGV[5]) > tonumber(latest) then
    redis.call('SET', KEYS[3], ARGV[5])
    redis.call('EXPIREAT', KEYS[3], ARGV[4])
  end
end
local recorded = 0
if allowed == 1 then
  recorded = part
end
local left = available - from
redis.call('HSET', KEYS[2], 'seq', ARGV[1],
  'result', allowed .. ':' .. string.format('%d:%d:%d:%d', used, held, from, left),
  'undo', string.format('%d', recorded), 'ugrants', spent)
redis.call('PEXPIRE', KEYS[2], ARGV[10])
return {allowed, used, held, from, left}
"
);

/// Gives back up to an amount, once per call like `CONSUME`. KEYS: the counter, the session,
/// the subject's latest window of the limit. ARGV: the call's number, the amount, 1 if the
/// counter has a window (else 0), its start, the session's lifetime in milliseconds.
///
/// Only the request's own window gives back, and nothing once the subject has used the limit
/// in a later window: the in-process meter's rule, which holds only the latest window.
pub(super) const REFUND: &str = concat!(
    holds_prelude!(),
    r"
local seq = tonumber(ARGV[1])
local seen = refund_seen(KEYS[2], seq)
if seen then
  return seen
end
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local amount = tonumber(ARGV[2])
if ARGV[3] == '1' then
  local latest = redis.call('GET', KEYS[3])
  if latest and tonumber(latest) > tonumber(ARGV[4]) then
    amount = 0
  end
end
-- The reverse of a consumption's order: overage, then what grants paid in this window, then
-- the plan.
local plan = tonumber(ARGV[5])
local over = 0
if plan >= 0 then
  over = math.max(0, used - plan)
end
local from_over = math.min(amount, over)
local rest = amount - from_over
local to_grants, ugrants = 0, ''
local paid = tonumber(redis.call('GET', KEYS[8]) or '0')
if rest > 0 and paid > 0 then
  local live = grants_live(KEYS[7], tonumber(ARGV[6]))
  to_grants, ugrants = grants_give_back(KEYS[7], live, math.min(rest, paid))
  if to_grants > 0 then
    redis.call('DECRBY', KEYS[8], to_grants)
  end
end
local from_plan = math.min(rest - to_grants, used - from_over)
local counter_back = from_over + from_plan
if counter_back > 0 then
  redis.call('DECRBY', KEYS[1], counter_back)
end
local back = counter_back + to_grants
redis.call('HSET', KEYS[2], 'seq', ARGV[1], 'result', '1:' .. string.format('%d', back),
  'undo', string.format('%d', -counter_back), 'ugrants', ugrants)
redis.call('PEXPIRE', KEYS[2], ARGV[7])
return {1, back}
"
);

/// Gives back up to an amount of a rolling window's usage, newest bucket first, once per
/// call like `CONSUME`. KEYS: the session, then the buckets that count, newest first. ARGV:
/// the call's number, the amount, the session's lifetime in milliseconds. The session's `undo`
/// lists what was taken off each bucket, for `SETTLE`.
pub(super) const ROLLING_REFUND: &str = concat!(
    holds_prelude!(),
    r"
local seq = tonumber(ARGV[1])
local seen = refund_seen(KEYS[1], seq)
if seen then
  return seen
end
local left = tonumber(ARGV[2])
local undo = {}
local used = redis.call('MGET', unpack(KEYS, 2))
for i = 2, #KEYS do
  local take = math.min(left, tonumber(used[i - 1] or '0'))
  if take > 0 then
    redis.call('DECRBY', KEYS[i], take)
    left = left - take
  end
  undo[#undo + 1] = string.format('%d', -take)
end
local back = tonumber(ARGV[2]) - left
redis.call('HSET', KEYS[1], 'seq', ARGV[1], 'result', '1:' .. string.format('%d', back),
  'undo', table.concat(undo, ':'), 'ugrants', '')
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {1, back}
"
);

/// Takes back a call the meter gave up on (it answered the caller as if nothing had been
/// recorded), whether Redis ran it or not. KEYS: that call's session (so this call goes to the
/// abandoned call's slot), then its counters, in the order of its `undo` list. ARGV: this
/// call's number, the abandoned call's number, the session's lifetime in milliseconds.
///
/// The connection slot makes no other call between the two, so if the abandoned call is the
/// session's latest, it ran: what it recorded on each counter is taken back (at most what the
/// counter holds), or what it refunded is counted again. Either way this call becomes the
/// session's latest, so a copy of the abandoned one that arrives later is never applied.
pub(super) const SETTLE: &str = r"
local seq = tonumber(ARGV[1])
local latest = redis.call('HMGET', KEYS[1], 'seq', 'result', 'undo', 'ugrants')
local seen = tonumber(latest[1] or '0')
if seq == seen then
  return {1, 0}
end
if seq < seen then
  return {-1, 0}
end
if seen == tonumber(ARGV[2]) then
  local at = 1
  for text in string.gmatch(latest[3] or '0', '[^:]+') do
    local undo = tonumber(text)
    local counter = KEYS[at + 1]
    if counter and undo > 0 then
      local back = math.min(undo, tonumber(redis.call('GET', counter) or '0'))
      if back > 0 then
        redis.call('DECRBY', counter, back)
      end
    elseif counter and undo < 0 and redis.call('EXISTS', counter) == 1 then
      redis.call('INCRBY', counter, string.format('%d', -undo))
    end
    at = at + 1
  end
  -- Grants the call spent (`seq=amount`) are given back, and grants a refund gave back
  -- (`seq=-amount`) spent again; the grants and what they paid in the window are the last
  -- two keys.
  if latest[4] and latest[4] ~= '' and #KEYS >= 4 then
    local grants, paid = KEYS[#KEYS - 1], KEYS[#KEYS]
    local all = redis.call('HGETALL', grants)
    local by_seq = {}
    for i = 1, #all, 2 do
      local sq = all[i] ~= '' and string.match(all[i + 1], '^%d+:%d+:%-?%d+:%-?%d+:%d+:(%d+):')
      if sq then by_seq[sq] = i end
    end
    -- What a grant can no longer take back or give (another call changed it meanwhile) is
    -- the plan's: taken off the counter for a consumption, added to it for a refund.
    local short = 0
    for sq, amount in string.gmatch(latest[4], '(%d+)=(%-?%d+)') do
      amount = tonumber(amount)
      local i = by_seq[sq]
      local change = 0
      if i then
        local a, s, rest = string.match(all[i + 1], '^(%d+):(%d+):(.*)$')
        a, s = tonumber(a), tonumber(s)
        if amount > 0 then change = -math.min(amount, s) else change = math.min(-amount, a - s) end
        if change ~= 0 then
          redis.call('HSET', grants, all[i], string.format('%d:%d:', a, s + change) .. rest)
          if redis.call('EXISTS', paid) == 1 then
            redis.call('INCRBY', paid, change)
          end
        end
      end
      short = short + (-amount - change)
    end
    local counter = KEYS[2]
    if short ~= 0 and redis.call('EXISTS', counter) == 1 then
      if short > 0 then
        redis.call('INCRBY', counter, string.format('%d', short))
      else
        redis.call('DECRBY', counter, string.format('%d', math.min(-short, tonumber(redis.call('GET', counter) or '0'))))
      end
    end
  end
end
redis.call('HSET', KEYS[1], 'seq', ARGV[1], 'result', '1:0', 'undo', '0', 'ugrants', '')
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {1, 0}
";

/// Decides one request against several counters of one subject and records every amount or
/// none, once per call like `CONSUME`. KEYS: the session, then five keys per counter as
/// `CONSUME` takes them (the counter, the subject's latest window of the limit, the holds, the
/// live holds by expiry, the settled ones), then the other buckets that count of each rolling
/// counter, in the counters' order. ARGV: the call's number, the number of counters `n`, five
/// per counter (the amount, the ceiling, -1 for none or -2 for a limit the engine refuses
/// whatever is used, the counter's expiry or 0, its window's start, how many other buckets
/// of it follow the counters' keys), the caller's clock, how long a settled hold is
/// remembered, the session's lifetime in milliseconds.
///
/// A counter given twice sees the amounts given for it before. The answer is `{recorded,
/// used_1, held_1, …, used_n, held_n}`, each `used` with those earlier amounts, and `recorded`
/// 1 only when every counter has room; the session's `undo` lists what was recorded on each.
pub(super) const CONSUME_ALL: &str = concat!(
    holds_prelude!(),
    r"
local seq = tonumber(ARGV[1])
local latest = redis.call('HMGET', KEYS[1], 'seq', 'result')
local seen = tonumber(latest[1] or '0')
if seq == seen then
  local out = {}
  for text in string.gmatch(latest[2], '[^:]+') do
    out[#out + 1] = tonumber(text)
  end
  return out
end
if seq < seen then
  return {-1}
end
local n = tonumber(ARGV[2])
local clock, remember = tonumber(ARGV[3 + 5 * n]), tonumber(ARGV[4 + 5 * n])
local pending = {}
local out = {1}
local extra = 2 + 5 * n
for i = 1, n do
  local k, a = 1 + 5 * (i - 1), 2 + 5 * (i - 1)
  local counter = KEYS[k + 1]
  local used = tonumber(redis.call('GET', counter) or '0') + (pending[counter] or 0)
  local others = tonumber(ARGV[a + 5])
  if others > 0 then
    used = used + bucket_sum({unpack(KEYS, extra, extra + others - 1)})
    extra = extra + others
  end
  local held = 0
  if redis.call('EXISTS', KEYS[k + 3]) == 1 then
    expire_holds(KEYS[k + 3], KEYS[k + 4], KEYS[k + 5], clock, remember)
    held = tonumber(redis.call('HGET', KEYS[k + 3], 'held') or '0')
  end
  local amount, ceiling = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  if ceiling == -2 or (ceiling >= 0 and used + held + amount > ceiling) then
    out[1] = 0
  end
  pending[counter] = (pending[counter] or 0) + amount
  out[#out + 1] = used
  out[#out + 1] = held
end
local undo = {}
for i = 1, n do
  local k, a = 1 + 5 * (i - 1), 2 + 5 * (i - 1)
  local amount = 0
  if out[1] == 1 then
    amount = tonumber(ARGV[a + 1])
  end
  if amount > 0 then
    record_usage(KEYS[k + 1], KEYS[k + 2], amount, ARGV[a + 3], ARGV[a + 4])
  end
  undo[i] = string.format('%d', amount)
end
local result = {}
for i, value in ipairs(out) do
  result[i] = string.format('%d', value)
end
redis.call('HSET', KEYS[1], 'seq', ARGV[1], 'result', table.concat(result, ':'), 'undo', table.concat(undo, ':'),
  'ugrants', '')
redis.call('PEXPIRE', KEYS[1], ARGV[5 + 5 * n])
return out
"
);

/// Holds an amount of a counter, as `Meter::reserve` does in-process. KEYS: the counter, its
/// holds (a hash: `held`, the live sum, and one field per hold id, `L:<amount>:<expires>` while
/// live (with what was taken before it), `E:<amount>:0:0` once expired,
/// `C:<amount>:<recorded>:<unrecorded>:<token>` committed, `R:<amount>:<freed>:0:<token>`
/// released), the live holds by expiry (a sorted set), the settled ones
/// by when they are forgotten (a sorted set). ARGV: the hold's id, the estimate, the ceiling
/// (-1 for none), the caller's clock, the hold's expiry, how long a settled hold is
/// remembered, when the counter's keys may go (0 for never: no window), the most holds one
/// counter may keep.
///
/// The same id twice (a retry after a lost reply) answers as the first did. `{1, used + held}`
/// when held, `{0, used + held}` when the estimate does not fit, `{-2, 0}` when the counter
/// keeps its most holds.
pub(super) const RESERVE: &str = concat!(
    holds_prelude!(),
    r"
local id, estimate, ceiling, now = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
expire_holds(KEYS[2], KEYS[3], KEYS[4], now, tonumber(ARGV[6]))
forget_holds(KEYS[2], KEYS[4], now)
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local held = tonumber(redis.call('HGET', KEYS[2], 'held') or '0')
local again = redis.call('HGET', KEYS[2], id)
if again then
  return {1, tonumber(fields(again)[4] or '0')}
end
if ceiling >= 0 and used + held + estimate > ceiling then
  return {0, used + held}
end
-- The live sum stays exact (below 2^53) and the hash bounded; nothing is written before.
if redis.call('HLEN', KEYS[2]) > tonumber(ARGV[8]) or held + estimate >= 9007199254740992 then
  return {-2, 0}
end
redis.call('HSET', KEYS[2], id, 'L:' .. ARGV[2] .. ':' .. ARGV[5] .. ':' .. string.format('%d', used + held))
redis.call('HINCRBY', KEYS[2], 'held', estimate)
redis.call('ZADD', KEYS[3], ARGV[5], id)
local keep = tonumber(ARGV[5]) + tonumber(ARGV[6])
if ARGV[7] ~= '0' then
  keep = math.max(keep, tonumber(ARGV[7]))
end
keep_until({KEYS[2], KEYS[3], KEYS[4]}, keep)
return {1, used + held}
"
);

/// Settles a hold with what the work used, as `Meter::commit` does in-process. KEYS: the
/// hold's holds, live and done keys (of its window), then the counter of the commit's window,
/// its holds and live keys, and the subject's latest window of the limit. ARGV: the hold's id,
/// its amount, the actual amount, the ceiling of the commit's window (-1 for none), the
/// caller's clock, how long a settled hold is remembered, 1 if the commit's window is the
/// hold's, the counter's expiry (0 for none), its window's start, the call's token (a number
/// drawn for each call: the same call sent again after a lost reply carries it and answers as
/// applied).
///
/// `{1, recorded, unrecorded}` applied, `{2, recorded, unrecorded}` a repeat of another call, `{-1, 0, 0}`
/// unknown (no such id with that amount), `{-3, 0, 0}` released already.
pub(super) const COMMIT: &str = concat!(
    holds_prelude!(),
    r"
local id, amount, actual, ceiling, now = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
expire_holds(KEYS[1], KEYS[2], KEYS[3], now, tonumber(ARGV[6]))
local record = redis.call('HGET', KEYS[1], id)
if not record then
  return {-1, 0, 0}
end
local f = fields(record)
local state = f[1]
if tonumber(f[2]) ~= amount then
  return {-1, 0, 0}
end
if state == 'C' then
  -- The same call again (its reply was lost) answers as applied; another, as a repeat.
  local code = 2
  if f[5] == ARGV[10] then
    code = 1
  end
  return {code, tonumber(f[3]), tonumber(f[4])}
end
if state == 'R' then
  return {-3, 0, 0}
end
local covered = 0
if state == 'L' then
  redis.call('HINCRBY', KEYS[1], 'held', -amount)
  redis.call('ZREM', KEYS[2], id)
  if ARGV[7] == '1' then
    covered = math.min(actual, amount)
  end
end
if ARGV[7] ~= '1' and redis.call('EXISTS', KEYS[5]) == 1 then
  expire_holds(KEYS[5], KEYS[6], KEYS[8], now, tonumber(ARGV[6]))
end
local used = tonumber(redis.call('GET', KEYS[4]) or '0')
local held = tonumber(redis.call('HGET', KEYS[5], 'held') or '0')
local excess = actual - covered
local fits = excess
if ceiling >= 0 then
  fits = math.max(0, math.min(excess, ceiling - used - held - covered))
end
local recorded = covered + fits
if recorded > 0 then
  record_usage(KEYS[4], KEYS[7], recorded, ARGV[8], ARGV[9])
end
local unrecorded = excess - fits
redis.call('HSET', KEYS[1], id,
  'C:' .. ARGV[2] .. ':' .. string.format('%d', recorded) .. ':' .. string.format('%d', unrecorded) .. ':' .. ARGV[10])
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[6]), id)
keep_until({KEYS[1], KEYS[2], KEYS[3]}, now + tonumber(ARGV[6]))
return {1, recorded, unrecorded}
"
);

/// Frees a hold and records nothing, as `Meter::release` does in-process. KEYS: the hold's
/// holds, live and done keys. ARGV: the hold's id, its amount, the caller's clock, how long a
/// settled hold is remembered, the call's token (as `COMMIT`'s).
///
/// `{1, freed}` applied, `{2, freed}` a repeat, `{-1, 0}` unknown, `{-3, 0}` committed
/// already.
pub(super) const RELEASE: &str = concat!(
    holds_prelude!(),
    r"
local id, amount, now = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
expire_holds(KEYS[1], KEYS[2], KEYS[3], now, tonumber(ARGV[4]))
local record = redis.call('HGET', KEYS[1], id)
if not record then
  return {-1, 0}
end
local f = fields(record)
local state = f[1]
if tonumber(f[2]) ~= amount then
  return {-1, 0}
end
if state == 'R' then
  local code = 2
  if f[5] == ARGV[5] then
    code = 1
  end
  return {code, tonumber(f[3])}
end
if state == 'C' then
  return {-3, 0}
end
local freed = 0
if state == 'L' then
  freed = amount
  redis.call('HINCRBY', KEYS[1], 'held', -amount)
  redis.call('ZREM', KEYS[2], id)
end
redis.call('HSET', KEYS[1], id, 'R:' .. ARGV[2] .. ':' .. string.format('%d', freed) .. ':0:' .. ARGV[5])
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[4]), id)
keep_until({KEYS[1], KEYS[2], KEYS[3]}, now + tonumber(ARGV[4]))
return {1, freed}
"
);

/// Settles a lease and takes the next in one call (see `lease`). KEYS: the old lease's holds,
/// live and done keys, its counter and the subject's latest window key, then the new lease's
/// counter, holds, live and done keys. ARGV: the old lease's id (`0` for none), its amount,
/// what was spent from it, the new lease's id (`0` to take none), the share wanted, the least
/// that must fit (the amount asked for), the ceiling (-1 for none), the caller's clock, the
/// new lease's expiry, how long a settled hold is remembered, when the new counter's keys may
/// go, the most holds one counter may keep, the old counter's expiry (0 for none) and its
/// window's start.
///
/// What was spent from the old lease is recorded in full, once: a settling sent again records
/// only what was spent since the one that reached Redis, and a share Redis forgot (settled
/// nowhere) records all it spent: this process admitted it. The new lease is the share wanted, or what
/// the ceiling leaves if that is less but still covers the amount asked for. Answers
/// `{1, granted, used + held}`, `{0, 0, used + held}` when not even the amount fits, `{-2, 0, 0}`
/// when the counter keeps its most holds.
pub(super) const RENEW: &str = concat!(
    holds_prelude!(),
    r"
local clock = tonumber(ARGV[8])
if ARGV[1] ~= '0' then
  expire_holds(KEYS[1], KEYS[2], KEYS[3], clock, tonumber(ARGV[10]))
  local record = redis.call('HGET', KEYS[1], ARGV[1])
  local f = {}
  if record then
    f = fields(record)
  end
  local amount = ARGV[2]
  -- What this settling records: all that was spent from a share not settled yet, or (a
  -- settling sent again after its reply was lost) what was spent since the last one; and all
  -- of it for a share Redis has forgotten, whose spending was never recorded.
  local spent = tonumber(ARGV[3])
  local settle = false
  if not record then
    settle = true
  elseif tonumber(f[2]) == tonumber(amount) then
    if f[1] == 'L' then
      redis.call('HINCRBY', KEYS[1], 'held', -tonumber(amount))
      redis.call('ZREM', KEYS[2], ARGV[1])
      settle = true
    elseif f[1] == 'E' then
      settle = true
    elseif f[1] == 'C' then
      spent = math.max(0, spent - tonumber(f[3]))
      settle = true
    end
  end
  if settle then
    if spent > 0 then
      record_usage(KEYS[4], KEYS[5], spent, ARGV[13], ARGV[14])
    end
    redis.call('HSET', KEYS[1], ARGV[1], 'C:' .. amount .. ':' .. ARGV[3] .. ':0:0')
    redis.call('ZADD', KEYS[3], clock + tonumber(ARGV[10]), ARGV[1])
    keep_until({KEYS[1], KEYS[2], KEYS[3]}, clock + tonumber(ARGV[10]))
  end
end
if ARGV[4] == '0' then
  return {1, 0, 0}
end
expire_holds(KEYS[7], KEYS[8], KEYS[9], clock, tonumber(ARGV[10]))
forget_holds(KEYS[7], KEYS[9], clock)
local used = tonumber(redis.call('GET', KEYS[6]) or '0')
local held = tonumber(redis.call('HGET', KEYS[7], 'held') or '0')
local again = redis.call('HGET', KEYS[7], ARGV[4])
if again then
  local granted = string.match(again, '^%u:(%d+):')
  return {1, tonumber(granted), used + held - tonumber(granted)}
end
local grant = tonumber(ARGV[5])
local ceiling = tonumber(ARGV[7])
if ceiling >= 0 then
  local room = ceiling - used - held
  if room < tonumber(ARGV[6]) then
    return {0, 0, used + held}
  end
  grant = math.min(grant, room)
end
if redis.call('HLEN', KEYS[7]) > tonumber(ARGV[12]) or held + grant >= 9007199254740992 then
  return {-2, 0, 0}
end
redis.call('HSET', KEYS[7], ARGV[4], 'L:' .. string.format('%d', grant) .. ':' .. ARGV[9] .. ':' .. string.format('%d', used + held))
redis.call('HINCRBY', KEYS[7], 'held', grant)
redis.call('ZADD', KEYS[8], ARGV[9], ARGV[4])
local keep = tonumber(ARGV[9]) + tonumber(ARGV[10])
if ARGV[11] ~= '0' then
  keep = math.max(keep, tonumber(ARGV[11]))
end
keep_until({KEYS[7], KEYS[8], KEYS[9]}, keep)
return {1, grant, used + held}
"
);

/// Cancels a hold the meter asked for and gave up on without an answer (see
/// `RedisMeter::call_holds`). KEYS: its holds, live and done keys. ARGV: its id, the caller's
/// clock, how long a settled hold is remembered.
///
/// A live hold is freed; a hold that was never made is marked released, so that a copy of the
/// request that reaches Redis later finds it settled and holds nothing. Either way the hold is
/// remembered, then forgotten, as a released one.
pub(super) const CANCEL: &str = concat!(
    holds_prelude!(),
    r"
local id, now, remember = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
expire_holds(KEYS[1], KEYS[2], KEYS[3], now, remember)
local record = redis.call('HGET', KEYS[1], id)
local amount = '0'
if record then
  local f = fields(record)
  if f[1] ~= 'L' and f[1] ~= 'E' then
    return {1, 0}
  end
  amount = f[2]
  if f[1] == 'L' then
    redis.call('HINCRBY', KEYS[1], 'held', -tonumber(amount))
    redis.call('ZREM', KEYS[2], id)
  end
end
redis.call('HSET', KEYS[1], id, 'R:' .. amount .. ':0:0:cancelled')
redis.call('ZADD', KEYS[3], now + remember, id)
keep_until({KEYS[1], KEYS[2], KEYS[3]}, now + remember)
return {1, 0}
"
);

/// Adds a grant, once: a grant is idempotent by its id, so a retry needs no session. KEYS: the
/// subject's grants on the limit. ARGV: the grant's id, amount, start, expiry (`i64::MAX` for
/// never) and priority, the most grants the key keeps, the caller's clock, how long a grant
/// spent in full is remembered, and the grace after the last expiry the key is kept for.
///
/// Before it counts the grants, it drops the expired ones and those spent in full and no longer
/// remembered. The answer is `{0, seq}` when added, `{1, spent}` for the same grant again,
/// `{2, 0}` for another grant with the id, `{3, 0}` at the most grants.
pub(super) const GRANT: &str = concat!(
    holds_prelude!(),
    r"
local key, id = KEYS[1], ARGV[1]
local now, remember = tonumber(ARGV[7]), tonumber(ARGV[8])
local all = redis.call('HGETALL', key)
local count, latest, never = 0, 0, false
for i = 1, #all, 2 do
  if all[i] ~= '' then
    local a, s, ex, at = string.match(all[i + 1], '^(%d+):(%d+):%-?%d+:(%-?%d+):%d+:%d+:(%-?%d+)$')
    local spent_out = tonumber(s) >= tonumber(a) and tonumber(at) + remember <= now
    if all[i] ~= id and (tonumber(ex) <= now or spent_out) then
      redis.call('HDEL', key, all[i])
    else
      count = count + 1
      if ex == '9223372036854775807' then never = true elseif tonumber(ex) > latest then latest = tonumber(ex) end
    end
  end
end
local held = redis.call('HGET', key, id)
if held then
  local a, s, st, ex, pr = string.match(held, '^(%d+):(%d+):(%-?%d+):(%-?%d+):(%d+):')
  if a == ARGV[2] and st == ARGV[3] and ex == ARGV[4] and pr == ARGV[5] then
    return {1, tonumber(s)}
  end
  return {2, 0}
end
if count >= tonumber(ARGV[6]) then
  return {3, 0}
end
-- Never a sequence number an earlier life of the hash gave (a pending undo names grants by
-- it): at least the server's clock in microseconds.
local clock = redis.call('TIME')
local seq = math.max(tonumber(redis.call('HGET', key, '') or '0'), tonumber(clock[1]) * 1000000 + tonumber(clock[2]))
redis.call('HSET', key, '', string.format('%d', seq + 1))
redis.call('HSET', key, id, ARGV[2] .. ':0:' .. ARGV[3] .. ':' .. ARGV[4] .. ':' .. ARGV[5] ..
  string.format(':%d:', seq) .. '-9223372036854775808')
if never or ARGV[4] == '9223372036854775807' then
  redis.call('PERSIST', key)
else
  keep_until({key}, math.max(latest, tonumber(ARGV[4])) + tonumber(ARGV[9]))
end
return {0, 0}
"
);

/// Every grant of a subject on a limit, for `RedisMeter::grants`. KEYS: the grants. The answer is the hash's fields and values, the next seq left out.
pub(super) const GRANTS: &str = r"
local all = redis.call('HGETALL', KEYS[1])
local out = {}
for i = 1, #all, 2 do
  if all[i] ~= '' then
    out[#out + 1] = all[i]
    out[#out + 1] = all[i + 1]
  end
end
return out
";
