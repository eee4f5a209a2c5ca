//! The Lua scripts the meter runs on Redis, one per call, each deciding and recording on the
//! server in one atomic step.

/// Decides and records one call. KEYS: the counter, the connection slot's session for the
/// subject's hash slot, the subject's latest window of the limit (all three share one hash
/// tag, so one slot of a cluster holds them). ARGV: the call's sequence number on its slot, the
/// amount, the ceiling (-1 for none), the counter's expiry (0 for none, and then no window),
/// its window's start, the session's lifetime in milliseconds.
///
/// A counter that starts raises the latest window to its own, so that `REFUND` can tell a
/// window the subject has moved on from.
///
/// The session remembers the latest call the connection slot made for subjects of this hash
/// slot, and its result. A slot's calls are numbered in order, so each session sees a rising
/// sequence: the same call sent again (a retry after a lost reply, or the first copy
/// arriving after its retry) returns that result and applies nothing, and a call older than
/// the session's latest is never applied (`{-1, 0}`).
pub(super) const CONSUME: &str = r"
local seq = tonumber(ARGV[1])
local latest = redis.call('HMGET', KEYS[2], 'seq', 'result')
local seen = tonumber(latest[1] or '0')
if seq == seen then
  local allowed, used = string.match(latest[2], '^(%d+):(%d+)$')
  return {tonumber(allowed), tonumber(used)}
end
if seq < seen then
  return {-1, 0}
end
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local amount = tonumber(ARGV[2])
local ceiling = tonumber(ARGV[3])
local allowed = 1
if ceiling >= 0 and used + amount > ceiling then
  allowed = 0
elseif amount > 0 then
  redis.call('INCRBY', KEYS[1], amount)
  if ARGV[4] ~= '0' then
    redis.call('EXPIREAT', KEYS[1], ARGV[4])
    local latest = used == 0 and redis.call('GET', KEYS[3])
    if used == 0 and (not latest or tonumber(ARGV[5]) > tonumber(latest)) then
      redis.call('SET', KEYS[3], ARGV[5])
      redis.call('EXPIREAT', KEYS[3], ARGV[4])
    end
  end
end
local recorded = 0
if allowed == 1 then
  recorded = amount
end
redis.call('HSET', KEYS[2], 'seq', ARGV[1], 'result', allowed .. ':' .. string.format('%d', used),
  'undo', string.format('%d', recorded))
redis.call('PEXPIRE', KEYS[2], ARGV[6])
return {allowed, used}
";

/// Gives back up to an amount, once per call like `CONSUME`. KEYS: the counter, the session,
/// the subject's latest window of the limit. ARGV: the call's number, the amount, 1 if the
/// counter has a window (else 0), its start, the session's lifetime in milliseconds.
///
/// Only the request's own window gives back, and nothing once the subject has used the limit
/// in a later window: the in-process meter's rule, which holds only the latest window.
pub(super) const REFUND: &str = r"
local seq = tonumber(ARGV[1])
local latest = redis.call('HMGET', KEYS[2], 'seq', 'result')
local seen = tonumber(latest[1] or '0')
if seq == seen then
  local done, back = string.match(latest[2], '^(%d+):(%d+)$')
  return {tonumber(done), tonumber(back)}
end
if seq < seen then
  return {-1, 0}
end
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local back = math.min(used, tonumber(ARGV[2]))
if ARGV[3] == '1' then
  local latest = redis.call('GET', KEYS[3])
  if latest and tonumber(latest) > tonumber(ARGV[4]) then
    back = 0
  end
end
if back > 0 then
  redis.call('DECRBY', KEYS[1], back)
end
redis.call('HSET', KEYS[2], 'seq', ARGV[1], 'result', '1:' .. string.format('%d', back),
  'undo', string.format('%d', -back))
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return {1, back}
";

/// Takes back a call the meter gave up on (it answered the caller as if nothing had been
/// recorded), whether Redis ran it or not. KEYS: that call's counter and session (so this
/// call goes to the abandoned call's slot). ARGV: this call's number, the abandoned call's
/// number, the session's lifetime in milliseconds.
///
/// The connection slot makes no other call between the two, so if the abandoned call is the
/// session's latest, it ran: what it recorded is taken back (at most what the counter
/// holds), or what it refunded is counted again. Either way this call becomes the session's
/// latest, so a copy of the abandoned one that arrives later is never applied.
pub(super) const SETTLE: &str = r"
local seq = tonumber(ARGV[1])
local latest = redis.call('HMGET', KEYS[2], 'seq', 'result', 'undo')
local seen = tonumber(latest[1] or '0')
if seq == seen then
  return {1, 0}
end
if seq < seen then
  return {-1, 0}
end
if seen == tonumber(ARGV[2]) then
  local undo = tonumber(latest[3] or '0')
  if undo > 0 then
    local back = math.min(undo, tonumber(redis.call('GET', KEYS[1]) or '0'))
    if back > 0 then
      redis.call('DECRBY', KEYS[1], back)
    end
  elseif undo < 0 and redis.call('EXISTS', KEYS[1]) == 1 then
    redis.call('INCRBY', KEYS[1], string.format('%d', -undo))
  end
end
redis.call('HSET', KEYS[2], 'seq', ARGV[1], 'result', '1:0', 'undo', '0')
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return {1, 0}
";
