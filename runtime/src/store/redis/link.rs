//! Reaching Redis, one server or a cluster, within a call's deadline.
//!
//! A script runs as `EVALSHA`; a server that does not hold it (`NOSCRIPT`: a new or restarted
//! server, or, on a cluster, a node that never ran it) gets `EVAL` with the source, which runs
//! it and keeps it for the next `EVALSHA`. On a cluster both go, like every command of one
//! script call, to the node of the call's keys, so no script is loaded on nodes that do not
//! need it (the client's own `SCRIPT LOAD` goes to every node, replicas included, and fails
//! if any one of them cannot be reached).
//!
//! Each step of a call gets what is left of its deadline as its timeouts. The cluster client
//! is told to retry nothing itself (its retries would each wait a full timeout, and follow
//! redirections with waits of their own): a broken connection, a timeout or a `MOVED` drops
//! the connection, and the meter's one retry (time allowing) opens a new one, which reads the
//! cluster's slot map afresh. A node that refuses the call outright (`ASK` or `TRYAGAIN` while
//! its slot moves, `CLUSTERDOWN`) fails it as unreachable, and since it ran nothing, nothing is
//! left to settle.
//!
//! Opening a cluster connection reads the slot map from a seed and connects to every node,
//! one after another, each step with its own timeout, so it runs on a thread of its own; the
//! call waits for it until its deadline and no longer. One that is still opening when the
//! call gives up is kept, and the slot's next call waits for the same one, so a slot never has
//! more than one opening at a time. A cluster connection counts as open only when every
//! primary answered `PING`, so that no call later connects to a node on its own time.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use redis::cluster::{ClusterClient, ClusterConfig, ClusterConnection};
use redis::{Cmd, ErrorKind, RedisError, RedisResult};

/// A Lua script: its source, for `EVAL`, and its SHA-1, for `EVALSHA`.
pub(super) struct Lua {
    source: &'static str,
    hash: String,
}

impl Lua {
    pub(super) fn new(source: &'static str) -> Lua {
        Lua { source, hash: redis::Script::new(source).get_hash().to_string() }
    }
}

/// Where Redis is.
pub(super) enum Target {
    Server(redis::Client),
    Cluster(ClusterClient),
}

/// An open connection.
enum Link {
    Server(redis::Connection),
    Cluster(Box<ClusterConnection>),
}

impl Link {
    /// Bounds the next reads and writes (on a cluster, with every node) by `left`.
    fn set_timeouts(&mut self, left: Duration) -> RedisResult<()> {
        match self {
            Link::Server(connection) => {
                connection.set_read_timeout(Some(left))?;
                connection.set_write_timeout(Some(left))
            }
            Link::Cluster(connection) => {
                connection.set_read_timeout(Some(left))?;
                connection.set_write_timeout(Some(left))
            }
        }
    }

    fn query<T: redis::FromRedisValue>(&mut self, command: &Cmd) -> RedisResult<T> {
        match self {
            Link::Server(connection) => command.query(connection),
            Link::Cluster(connection) => command.query(connection.as_mut()),
        }
    }

    /// Runs `lua` with `keys` and `args`: `EVALSHA`, then `EVAL` if the server lacks it.
    fn script<T: redis::FromRedisValue, A: redis::ToRedisArgs>(
        &mut self,
        lua: &Lua,
        keys: &[&str],
        args: &[A],
        deadline: Instant,
    ) -> RedisResult<T> {
        let command = |name: &str, script: &str| {
            let mut command = redis::cmd(name);
            command.arg(script).arg(keys.len()).arg(keys).arg(args);
            command
        };
        match self.query(&command("EVALSHA", &lua.hash)) {
            Err(error) if error.kind() == ErrorKind::NoScriptError => {
                self.set_timeouts(left(deadline).ok_or_else(timed_out)?)?;
                self.query(&command("EVAL", lua.source))
            }
            answer => answer,
        }
    }
}

/// A slot's connection: open, opening (a cluster's, on its own thread), or neither.
#[derive(Default)]
pub(super) struct Channel {
    link: Option<Link>,
    opening: Option<Receiver<RedisResult<ClusterConnection>>>,
}

/// What is left until `deadline`, if anything.
pub(super) fn left(deadline: Instant) -> Option<Duration> {
    deadline.checked_duration_since(Instant::now()).filter(|left| !left.is_zero())
}

fn timed_out() -> RedisError {
    RedisError::from(std::io::Error::new(std::io::ErrorKind::TimedOut, "the call's time is up"))
}

/// Whether an error leaves the connection unfit for the next command: it broke or timed out
/// (a late reply may still come), or a cluster node answered `MOVED` (the connection's slot
/// map is stale; a new connection reads it afresh).
fn drops_connection(error: &RedisError) -> bool {
    error.is_io_error()
        || error.is_connection_dropped()
        || error.is_timeout()
        || matches!(error.kind(), ErrorKind::Moved | ErrorKind::ClusterConnectionNotFound)
}

/// Whether a cluster node refused to run the call at all: it redirected it (`MOVED`, `ASK`:
/// the slot is elsewhere, or moving), or could not serve the slot now (`TRYAGAIN` while the
/// slot's keys move, `CLUSTERDOWN`, `MASTERDOWN`). Such a call needs no settling. (`ASK` and
/// `TRYAGAIN` last until the slot has moved; the call fails, and a later one succeeds.)
fn refused(error: &RedisError) -> bool {
    error.is_cluster_error() || error.kind() == ErrorKind::MasterDown
}

impl Target {
    /// Where Redis is, for messages: addresses, never URLs, which may hold a password.
    pub(super) fn address(&self, nodes: &[String]) -> String {
        match self {
            Target::Server(client) => client.get_connection_info().addr.to_string(),
            Target::Cluster(_) => {
                let seeds: Vec<String> = nodes
                    .iter()
                    .map(|node| {
                        redis::IntoConnectionInfo::into_connection_info(node.as_str())
                            .map_or_else(|_| "?".to_string(), |info| info.addr.to_string())
                    })
                    .collect();
                format!("cluster {}", seeds.join(", "))
            }
        }
    }
}

/// Runs scripts on a [`Target`] within deadlines, and words its errors.
pub(super) struct Runner {
    pub(super) target: Target,
    pub(super) address: String,
    /// The configured timeout: a whole call's, and a cluster connection's opening's.
    pub(super) timeout: Duration,
}

impl Runner {
    /// Runs `lua` on `channel` (opening it if needed), reconnecting once if the connection
    /// broke, all by `deadline`. An error says why, and whether the call may have reached
    /// Redis (it was written, or partly written, to a connection).
    pub(super) fn run<T: redis::FromRedisValue, A: redis::ToRedisArgs>(
        &self,
        channel: &mut Channel,
        lua: &Lua,
        keys: &[&str],
        args: &[A],
        deadline: Instant,
    ) -> Result<T, (String, bool)> {
        let mut sent = false;
        for _attempt in 0..2 {
            // An attempt never starts without time left.
            if left(deadline).is_none() {
                return Err((self.no_answer(), sent));
            }
            if channel.link.is_none() {
                self.open(channel, deadline).map_err(|why| (why, sent))?;
            }
            let Some(link) = channel.link.as_mut() else { continue };
            let timed = left(deadline)
                .ok_or_else(|| self.no_answer())
                .and_then(|left| link.set_timeouts(left).map_err(|e| self.describe(&e)));
            if let Err(why) = timed {
                channel.link = None;
                return Err((why, sent));
            }
            let sent_before = sent;
            sent = true;
            match link.script::<T, A>(lua, keys, args, deadline) {
                Ok(value) => return Ok(value),
                Err(error) => {
                    if refused(&error) {
                        // This try ran nothing; only an earlier one may have.
                        sent = sent_before;
                    }
                    // A broken connection (or a stale slot map) is dropped and opened again
                    // once, time allowing; a script error, or a slot that cannot be served
                    // now, is final.
                    // (A server taken for one server that answers `MOVED` is a cluster's node:
                    // the error says so, and a new connection would not mend it.)
                    let misplaced = error.kind() == ErrorKind::Moved && matches!(self.target, Target::Server(_));
                    let drop = drops_connection(&error) && !misplaced;
                    if drop {
                        channel.link = None;
                    }
                    if !drop || error.is_timeout() {
                        return Err((self.describe(&error), sent));
                    }
                }
            }
        }
        Err((format!("the connection to redis at `{}` broke twice", self.address), sent))
    }

    /// Opens `channel`'s connection by `deadline`.
    fn open(&self, channel: &mut Channel, deadline: Instant) -> Result<(), String> {
        let left = left(deadline).ok_or_else(|| self.no_answer())?;
        let client = match &self.target {
            Target::Server(client) => {
                let connection = client.get_connection_with_timeout(left).map_err(|e| self.describe(&e))?;
                channel.link = Some(Link::Server(connection));
                return Ok(());
            }
            Target::Cluster(client) => client,
        };
        // An opening a past call left may have failed long ago; then one more starts now.
        let inherited = channel.opening.is_some();
        for fresh in [!inherited, true] {
            let pending = match channel.opening.take() {
                Some(pending) => pending,
                None => self.start_opening(client)?,
            };
            let Some(left) = self::left(deadline) else {
                channel.opening = Some(pending);
                return Err(self.no_answer());
            };
            match pending.recv_timeout(left) {
                Ok(Ok(connection)) => {
                    channel.link = Some(Link::Cluster(Box::new(connection)));
                    return Ok(());
                }
                Ok(Err(error)) if fresh => return Err(self.describe(&error)),
                Ok(Err(_)) => {}
                Err(RecvTimeoutError::Timeout) => {
                    channel.opening = Some(pending);
                    return Err(self.no_answer());
                }
                Err(RecvTimeoutError::Disconnected) if fresh => {
                    return Err(format!("connecting to redis at `{}` stopped unfinished", self.address))
                }
                Err(RecvTimeoutError::Disconnected) => {}
            }
        }
        Err(self.no_answer())
    }

    /// Opens a cluster connection on a thread of its own, each of its steps bounded by the
    /// configured timeout.
    fn start_opening(&self, client: &ClusterClient) -> Result<Receiver<RedisResult<ClusterConnection>>, String> {
        let (done, pending) = mpsc::sync_channel(1);
        let (client, timeout) = (client.clone(), self.timeout);
        let opening = move || {
            let config = ClusterConfig::new().set_connection_timeout(timeout).set_response_timeout(timeout);
            let opened = client.get_connection_with_config(config).and_then(|mut connection| {
                connection.set_auto_reconnect(false);
                // `PING` goes to every primary, connecting to any the slot map named but the
                // opening could not reach, and fails if one does not answer.
                redis::cmd("PING").exec(&mut connection)?;
                Ok(connection)
            });
            // The call that waited for it may have given up: then it is dropped here.
            let _ = done.send(opened);
        };
        std::thread::Builder::new()
            .name("entitle-redis-connect".into())
            .spawn(opening)
            .map_err(|e| format!("cannot start connecting to redis at `{}`: {e}", self.address))?;
        Ok(pending)
    }

    pub(super) fn no_answer(&self) -> String {
        format!("redis at `{}` did not answer within {} ms", self.address, self.timeout.as_millis())
    }

    /// A one-line account of a client error: a timeout says how long was waited, not the
    /// operating system's `EAGAIN`.
    pub(super) fn describe(&self, error: &RedisError) -> String {
        if error.is_timeout() {
            self.no_answer()
        } else if error.is_connection_refusal() {
            format!("cannot connect to redis at `{}`: {error}", self.address)
        } else {
            format!("redis at `{}`: {error}", self.address)
        }
    }
}
