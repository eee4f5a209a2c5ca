//! A throwaway `redis-server` (the Debian package) on a free port of 127.0.0.1, for the
//! Redis meter's tests, its bench and the Redis example's test. Included by path
//! (`#[path = …] mod redis_server;`) so that each of them starts a server the same way.

#![allow(dead_code, reason = "each includer uses part of the harness: only one test restarts a server")]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `redis-server` on 127.0.0.1, persisting every write to an append-only file in its
/// directory so that a restart finds what was recorded; killed when dropped, and its directory
/// removed unless it was [`Server::kill`]ed to be restarted.
pub struct Server {
    child: Child,
    port: u16,
    dir: PathBuf,
    keep_files: bool,
}

impl Server {
    /// Starts a server with its files in `dir`, on `port` or on a free one, and waits until
    /// it accepts connections. Every write reaches the disk before Redis answers
    /// (`appendfsync always`), so a killed server loses nothing it acknowledged.
    pub fn start(dir: &Path, port: Option<u16>) -> Server {
        Server::start_with(dir, port, "always")
    }

    /// [`Server::start`] with Redis's default durability (`appendfsync everysec`): what a
    /// deployment usually runs, and what the bench measures.
    pub fn start_everysec(dir: &Path) -> Server {
        Server::start_with(dir, None, "everysec")
    }

    fn start_with(dir: &Path, port: Option<u16>, appendfsync: &str) -> Server {
        std::fs::create_dir_all(dir).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        // A free port is found by binding port 0 and letting it go, so another test of the same
        // binary can be handed the same port before either server binds it: then one server
        // exits, and the other test's server answers on it. A server counts as started only
        // when the one answering on the port reports our child's process id; if our child
        // exited, it starts again on another free port.
        loop {
            let chosen = port.unwrap_or_else(|| {
                let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                listener.local_addr().unwrap().port()
            });
            let mut child = Command::new("redis-server")
                .args(["--bind", "127.0.0.1", "--port", &chosen.to_string(), "--save", "", "--appendonly", "yes"])
                .args(["--appendfsync", appendfsync, "--dir", dir.to_str().unwrap()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server runs: `apt-get install redis-server` (.ci/run installs it)");
            loop {
                assert!(Instant::now() < deadline, "redis-server did not start on port {chosen}");
                if child.try_wait().unwrap().is_some() {
                    break;
                }
                if answering_pid(chosen) == Some(child.id()) {
                    return Server { child, port: chosen, dir: dir.to_path_buf(), keep_files: false };
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            assert!(port.is_none(), "redis-server could not start on port {chosen}");
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Where to reach it.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Kills it, keeping its files, and returns its port and directory for a restart on the
    /// same append-only file.
    pub fn kill(mut self) -> (u16, PathBuf) {
        self.keep_files = true;
        (self.port, self.dir.clone())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !self.keep_files {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The process id of the Redis server answering on `port` of 127.0.0.1, if one answers
/// `INFO server` there.
fn answering_pid(port: u16) -> Option<u32> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    stream.write_all(b"*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n").ok()?;
    let mut reply = Vec::new();
    let mut chunk = [0u8; 4096];
    let has_pid = |reply: &[u8]| {
        let text = String::from_utf8_lossy(reply);
        text.split_once("process_id:").is_some_and(|(_, rest)| rest.contains("\r\n"))
    };
    while !has_pid(&reply) {
        let n = stream.read(&mut chunk).ok().filter(|&n| n > 0)?;
        reply.extend_from_slice(chunk.get(..n)?);
    }
    let reply = String::from_utf8_lossy(&reply);
    let line = reply.lines().find_map(|line| line.strip_prefix("process_id:"))?;
    line.trim().parse().ok()
}

/// A fresh directory under the system's temporary one, named for `name` and this process.
pub fn scratch(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("entitle-redis-{name}-{}", std::process::id()))
}
