//! A TCP proxy in front of a `redis-server` that loses and delays traffic on demand, for the
//! Redis meter's fault tests. Included by path (`#[path = …] mod fault_proxy;`).
//!
//! A lost reply and a late request are what a real network does under a stall or a reset;
//! the proxy makes them happen at one chosen point, so that a test can check exactly what the
//! server applied.

#![allow(dead_code, reason = "each includer uses part of the proxy")]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
struct State {
    /// The next reply to a script call is swallowed and its connection closed.
    drop_next_reply: AtomicBool,
    /// Requests are held, not forwarded, while this is set.
    holding: AtomicBool,
    /// What was held, in arrival order, with the server connection it was bound for.
    held: Mutex<Vec<(TcpStream, Vec<u8>)>>,
    /// Replies the server sent, counted so that a test can wait for a released request's.
    replies: AtomicU64,
    /// Connections accepted from clients.
    accepted: AtomicU64,
}

/// The proxy; its threads live as long as the test process (they end with their sockets).
pub struct Proxy {
    port: u16,
    state: Arc<State>,
}

impl Proxy {
    /// A proxy on a free port of 127.0.0.1 forwarding to the Redis on `upstream_port`.
    pub fn start(upstream_port: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(State::default());
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                shared.accepted.fetch_add(1, Ordering::SeqCst);
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream_port)) else { continue };
                connect(client, server, Arc::clone(&shared));
            }
        });
        Proxy { port, state }
    }

    /// Where clients reach the proxy.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Swallows the reply to the next script call (after the server ran it) and closes that
    /// connection: the client sees the connection drop with no answer.
    pub fn drop_next_reply(&self) {
        self.state.drop_next_reply.store(true, Ordering::SeqCst);
    }

    /// Holds every request from now on instead of forwarding it.
    pub fn hold(&self) {
        self.state.holding.store(true, Ordering::SeqCst);
    }

    /// Forwards new requests again; what was held stays held until [`Proxy::release`].
    pub fn stop_holding(&self) {
        self.state.holding.store(false, Ordering::SeqCst);
    }

    /// How many requests are held.
    pub fn held(&self) -> usize {
        self.state.held.lock().unwrap().len()
    }

    /// Sends what was held to the server, late, and waits until the server has answered
    /// each (the answers go nowhere: their clients gave up).
    pub fn release(&self) {
        let held = std::mem::take(&mut *self.state.held.lock().unwrap());
        let before = self.state.replies.load(Ordering::SeqCst);
        let count = held.len() as u64;
        for (mut server, bytes) in held {
            server.write_all(&bytes).unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.state.replies.load(Ordering::SeqCst) < before + count {
            assert!(Instant::now() < deadline, "the server did not answer the released requests");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// How many client connections the proxy accepted.
    pub fn accepted(&self) -> u64 {
        self.state.accepted.load(Ordering::SeqCst)
    }
}

fn connect(mut client: TcpStream, mut server: TcpStream, state: Arc<State>) {
    let drop_reply = Arc::new(AtomicBool::new(false));
    let (mut client_out, mut server_in) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let (requests, replies) = (Arc::clone(&state), Arc::clone(&drop_reply));
    // Client to server.
    std::thread::spawn(move || {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            let n = match client.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let bytes = chunk[..n].to_vec();
            if requests.holding.load(Ordering::SeqCst) {
                requests.held.lock().unwrap().push((server.try_clone().unwrap(), bytes));
                continue;
            }
            if contains(&bytes, b"EVALSHA") && requests.drop_next_reply.swap(false, Ordering::SeqCst) {
                drop_reply.store(true, Ordering::SeqCst);
            }
            if server.write_all(&bytes).is_err() {
                return;
            }
        }
    });
    // Server to client.
    std::thread::spawn(move || {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            let n = match server_in.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            state.replies.fetch_add(1, Ordering::SeqCst);
            if replies.load(Ordering::SeqCst) {
                let _ = client_out.shutdown(Shutdown::Both);
                let _ = server_in.shutdown(Shutdown::Both);
                return;
            }
            if client_out.write_all(&chunk[..n]).is_err() {
                // The client gave up; the server's answers are read and dropped.
                continue;
            }
        }
    });
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
