//! A throwaway `redis-server` (the Debian package) on a free port of 127.0.0.1, for the
//! Redis meter's tests, its bench and the Redis example's test, and a throwaway Redis Cluster
//! of three such servers for the cluster test. Included by path
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
    /// (`appendfsync always`), so a killed server loses nothing it acknowledged. `DEBUG`
    /// is allowed from loopback, for the tests that stall the server with `DEBUG SLEEP`.
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
                .args(["--enable-debug-command", "local"])
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

/// Three `redis-server`s on free ports of 127.0.0.1 (whose cluster bus ports, 10000 above,
/// were free too) joined into a Redis Cluster by `redis-cli --cluster create`, each a primary
/// of a third of the slots, with no replicas and nothing on disk but their cluster
/// configuration files. Every server is killed, and the directory removed, when dropped (a
/// panicking test drops it too).
pub struct Cluster {
    children: Vec<Child>,
    ports: Vec<u16>,
    dir: PathBuf,
}

impl Cluster {
    /// Starts the servers with their files in `dir`, joins them, and waits until every one
    /// reports `cluster_state:ok`.
    pub fn start(dir: &Path) -> Cluster {
        let deadline = Instant::now() + Duration::from_secs(30);
        // As for one server: a port found free may be taken before our server binds it, so
        // the servers count as started only when each port answers with our child's process
        // id; otherwise all three start again on other ports (a failed try's drop removed the
        // directory, so each try makes it).
        let cluster = loop {
            assert!(Instant::now() < deadline, "three redis-servers did not start in cluster mode");
            std::fs::create_dir_all(dir).unwrap();
            let ports = free_cluster_ports(3);
            let mut cluster = Cluster { children: Vec::new(), ports: ports.clone(), dir: dir.to_path_buf() };
            for &port in &ports {
                let child = Command::new("redis-server")
                    .args(["--bind", "127.0.0.1", "--port", &port.to_string(), "--cluster-enabled", "yes"])
                    .args([
                        "--cluster-config-file",
                        &format!("nodes-{port}.conf"),
                        "--cluster-announce-ip",
                        "127.0.0.1",
                    ])
                    .args(["--save", "", "--appendonly", "no", "--dir", dir.to_str().unwrap()])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("redis-server runs: `apt-get install redis-server` (.ci/run installs it)");
                cluster.children.push(child);
            }
            if cluster.wait_answering(deadline) {
                break cluster;
            }
        };
        let nodes: Vec<String> = cluster.ports.iter().map(|port| format!("127.0.0.1:{port}")).collect();
        let created = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&nodes)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("redis-cli runs: `apt-get install redis-tools` (.ci/run installs it)");
        assert!(created.success(), "redis-cli --cluster create {nodes:?} failed: {created}");
        loop {
            let states: Vec<Option<String>> =
                cluster.ports.iter().map(|&port| command(port, &["CLUSTER", "INFO"])).collect();
            if states.iter().all(|info| info.as_deref().is_some_and(|info| info.contains("cluster_state:ok"))) {
                break;
            }
            assert!(Instant::now() < deadline, "the cluster on {nodes:?} did not reach cluster_state:ok: {states:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
        cluster
    }

    /// Whether every server answers on its port as our child; false (with every child killed)
    /// as soon as one exited.
    fn wait_answering(&mut self, deadline: Instant) -> bool {
        loop {
            assert!(Instant::now() < deadline, "redis-server did not start on ports {:?}", self.ports);
            if self.children.iter_mut().any(|child| child.try_wait().unwrap().is_some()) {
                self.stop();
                return false;
            }
            let answering =
                self.children.iter().zip(&self.ports).all(|(child, &port)| answering_pid(port) == Some(child.id()));
            if answering {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.children.clear();
    }

    /// The servers' ports.
    pub fn ports(&self) -> &[u16] {
        &self.ports
    }

    /// Where to reach each server.
    pub fn urls(&self) -> Vec<String> {
        self.ports.iter().map(|port| format!("redis://127.0.0.1:{port}/")).collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `count` ports of 127.0.0.1 that were free, each with its cluster bus port (10000 above)
/// free too. Every port is held until all are found, so none is handed out twice here.
fn free_cluster_ports(count: usize) -> Vec<u16> {
    let mut held = Vec::new();
    while held.len() < count {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let Some(bus_port) = port.checked_add(10_000) else { continue };
        let Ok(bus) = std::net::TcpListener::bind(("127.0.0.1", bus_port)) else { continue };
        held.push((port, listener, bus));
    }
    held.into_iter().map(|(port, _, _)| port).collect()
}

/// Sends one command to the Redis on `port` of 127.0.0.1 and returns its reply, if it is a
/// bulk string (as `INFO` and `CLUSTER INFO` answer).
pub fn command(port: u16, args: &[&str]) -> Option<String> {
    use std::io::{BufRead, BufReader, Read, Write};
    let stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    let mut request = format!("*{}\r\n", args.len());
    for arg in args {
        request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
    }
    (&stream).write_all(request.as_bytes()).ok()?;
    let mut reader = BufReader::new(&stream);
    let mut header = String::new();
    reader.read_line(&mut header).ok()?;
    let len: usize = header.strip_prefix('$')?.trim().parse().ok()?;
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body).ok()?;
    String::from_utf8(body).ok()
}

/// The process id of the Redis server answering on `port` of 127.0.0.1, if one answers
/// `INFO server` there.
fn answering_pid(port: u16) -> Option<u32> {
    let reply = command(port, &["INFO", "server"])?;
    let line = reply.lines().find_map(|line| line.strip_prefix("process_id:"))?;
    line.trim().parse().ok()
}

/// A fresh directory under the system's temporary one, named for `name` and this process.
pub fn scratch(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("entitle-redis-{name}-{}", std::process::id()))
}
