//! What both service examples share: how the policy is deployed and reloaded, the simulated
//! traffic, how a request is served, and the summary.
//!
//! A product on the bundled `api-gateway` plans: customers on `hobby`, `growth` and `scale`
//! send requests; each one asks for edge caching now and then (a feature), counts against
//! `requests_per_minute`, and moves some bytes against the monthly `bandwidth`. A few
//! customers send most of the traffic, so the per-minute limits are reached. The stream is a
//! pure function of a seed and the request's index, so any number of service instances can
//! each take their share of it.

// Each example uses most of this module, neither all of it.
#![allow(dead_code, reason = "the in-process example ticks progress per request, the Redis one polls")]

use std::collections::{BTreeMap, HashMap};
use std::error::Error;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use entitle::{Engine, FeatureId, LimitId, Limits, Reason, Request, Source, TierId};
use entitle_runtime::reload::{Live, Reloaded, Watcher};
use entitle_runtime::store::{StoreError, UsageMeter};

/// The plans both examples serve.
pub const POLICY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/policies/api-gateway.policy");

/// The policy in service: compiled to a bundle (as CI would), loaded by the service, and
/// watched, so that a new bundle dropped over the file is swapped in without a restart.
pub struct Deployment {
    /// The engine in service and the ids resolved against it.
    pub live: Arc<Live<Ids>>,
    source: Source,
    dir: PathBuf,
    bundle: PathBuf,
    reloads: Receiver<Result<Reloaded, String>>,
    _watcher: Watcher,
}

impl Deployment {
    /// Builds [`POLICY`] into a bundle in a scratch directory named for `name` (removed when
    /// the deployment is dropped), serves it, and watches the file. The directory is the
    /// deployment's own, so that two in one process (an example's tests, run in parallel)
    /// never remove each other's files.
    pub fn start(name: &str) -> Result<Deployment, Box<dyn Error>> {
        static STARTED: AtomicU32 = AtomicU32::new(0);
        let nth = STARTED.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("entitle-{name}-{}-{nth}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let source = Source::read(Path::new(POLICY), &Limits::default())?;
        let bundle = dir.join("plans.bundle");
        entitle::write_file_atomically(&bundle, &entitle::bundle::build(&source)?)?;
        let live = Arc::new(Live::new(Engine::from_path(&bundle)?, Ids::resolve)?);
        let (sender, reloads) = mpsc::channel();
        let watcher = live.watch(&bundle, Duration::from_millis(10), move |outcome| {
            // The receiver outlives the watcher (both belong to the deployment).
            let _ = sender.send(outcome.map_err(|error| error.to_string()));
        });
        Ok(Deployment { live, source, dir, bundle, reloads, _watcher: watcher })
    }

    /// The scratch directory, for the service's own files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// What an operator does mid-stream: raises `hobby`'s per-minute limit from 100 to 300.
    /// The edited policy is built into a new bundle and written over the watched one; this
    /// waits until the watcher has swapped it in.
    pub fn raise_hobby_limit(&self) -> Result<Reloaded, Box<dyn Error>> {
        let from = "limit requests_per_minute = 100\n";
        if !self.source.text().contains(from) {
            return Err(format!("the policy has no line `{}` to edit", from.trim_end()).into());
        }
        let edited = self.source.text().replacen(from, "limit requests_per_minute = 300\n", 1);
        let bundle = entitle::bundle::build(&Source::new(self.source.name(), edited))?;
        entitle::write_file_atomically(&self.bundle, &bundle)?;
        Ok(self.reloads.recv_timeout(Duration::from_secs(10)).map_err(|_| "no reload within 10 s")??)
    }

    /// One line naming the policy in service.
    pub fn describe(&self) -> String {
        let current = self.live.load();
        let engine = &current.engine;
        format!(
            "policy `{}` version {} (generation {}, sha256 {})",
            engine.policy_name(),
            engine.policy_version().unwrap_or("-"),
            current.generation,
            engine.policy_hash(),
        )
    }
}

/// What both examples simulate: `--customers N --requests N --seed N`.
pub struct StreamOptions {
    /// How many customers call.
    pub customers: usize,
    /// How many requests in all.
    pub requests: u64,
    /// The stream's seed.
    pub seed: u64,
}

impl StreamOptions {
    /// Parses the stream's flags from `args`, starting from `defaults`; any other flag goes to
    /// `other` with its value, which answers whether it knew the flag.
    pub fn parse(
        mut args: impl Iterator<Item = String>,
        usage: &str,
        defaults: StreamOptions,
        mut other: impl FnMut(&str, &str) -> Result<bool, String>,
    ) -> Result<StreamOptions, String> {
        let mut options = defaults;
        while let Some(flag) = args.next() {
            let value = args.next().ok_or_else(|| format!("`{flag}` needs a value\n{usage}"))?;
            match flag.as_str() {
                "--customers" => options.customers = count(&value, "customers")?,
                "--requests" => options.requests = number(&value, "requests")?.max(1),
                "--seed" => options.seed = number(&value, "seed")?,
                _ if other(&flag, &value)? => {}
                _ => return Err(format!("unknown option `{flag}`\n{usage}")),
            }
        }
        Ok(options)
    }
}

/// A flag's value as a number (`1_000` allowed), or what was wrong with it.
pub fn number(value: &str, what: &str) -> Result<u64, String> {
    value.replace('_', "").parse().map_err(|_| format!("`{value}` is not a number of {what}"))
}

/// A flag's value as a count of at least 1.
pub fn count(value: &str, what: &str) -> Result<usize, String> {
    number(value, what).map(|n| usize::try_from(n.max(1)).unwrap_or(usize::MAX))
}

/// An example's `main`: parses its options, runs it with the summary on stdout and the
/// progress line on stderr, and fails when the run failed or a counter differed from what
/// was served (`run` returns how many did).
pub fn main<O>(
    parse: impl FnOnce(std::iter::Skip<std::env::Args>) -> Result<O, String>,
    run: impl FnOnce(&O, &mut dyn Write, &mut dyn Write) -> Result<usize, Box<dyn Error>>,
) -> ExitCode {
    let options = match parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    match run(&options, &mut std::io::stdout(), &mut std::io::stderr()) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(differ) => {
            eprintln!("error: {differ} counters differ from what was served");
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The first whole minute from now: where the simulated clock starts. Real time, so that
/// windows on Redis expire by Redis's own clock when the run is long over.
pub fn start_of_next_minute() -> i64 {
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    i64::try_from(now / 60 * 60 + 60).unwrap_or(0)
}

/// The names this service resolves against every policy it serves. A policy that drops one of
/// them is refused at load or reload, and the one in service keeps serving.
pub struct Ids {
    /// `hobby`, `growth`, `scale`.
    pub tiers: [TierId; 3],
    /// The tiers' names, in the same order.
    pub tier_names: [&'static str; 3],
    /// Counted once per request.
    pub per_minute: LimitId,
    /// Counted in bytes per request.
    pub bandwidth: LimitId,
    /// Asked for by some requests.
    pub edge_caching: FeatureId,
}

impl Ids {
    /// Resolves the service's names, or says which one the policy lacks.
    pub fn resolve(engine: &Engine) -> Result<Ids, String> {
        let tier_names = ["hobby", "growth", "scale"];
        let tier = |name: &str| engine.tier(name).ok_or_else(|| format!("the policy has no tier `{name}`"));
        let limit = |name: &str| engine.limit(name).ok_or_else(|| format!("the policy has no limit `{name}`"));
        Ok(Ids {
            tiers: [tier(tier_names[0])?, tier(tier_names[1])?, tier(tier_names[2])?],
            tier_names,
            per_minute: limit("requests_per_minute")?,
            bandwidth: limit("bandwidth")?,
            edge_caching: engine.feature("edge_caching").ok_or("the policy has no feature `edge_caching`")?,
        })
    }
}

/// The simulated stream: who calls, when, asking for what.
pub struct Traffic {
    /// How many requests in all.
    pub requests: u64,
    /// The instant of the first request; the stream runs at `per_second` requests a second.
    pub start: i64,
    /// Requests per simulated second.
    pub per_second: u64,
    seed: u64,
    keys: Vec<String>,
}

/// One request of the stream.
pub struct Call {
    /// Which customer (an index into the stream's customers).
    pub customer: usize,
    /// When, in Unix seconds.
    pub now: i64,
    /// Whether it asks for edge caching.
    pub cached: bool,
    /// How many bytes it moves.
    pub bytes: u64,
}

impl Traffic {
    /// A stream of `requests` requests from `customers` customers, starting at `start`.
    pub fn new(customers: usize, requests: u64, start: i64, seed: u64) -> Traffic {
        let keys = (0..customers.max(1)).map(|c| format!("customer-{c:05}")).collect();
        Traffic { requests, start, per_second: 200, seed, keys }
    }

    /// How many customers call.
    pub fn customers(&self) -> usize {
        self.keys.len()
    }

    /// The `index`th request.
    pub fn call(&self, index: u64) -> Call {
        let h = mix(self.seed ^ index);
        // The cube of a uniform draw skews towards the first customers: customer 0 sends
        // about a tenth of all requests with a thousand customers.
        let u = u128::from(h >> 43);
        let customer = (u * u * u * self.keys.len() as u128) >> 63;
        let seconds = i64::try_from(index / self.per_second).unwrap_or(i64::MAX);
        Call {
            customer: usize::try_from(customer).unwrap_or(0),
            now: self.start.saturating_add(seconds),
            cached: h & 3 == 0,
            bytes: 1_024 + (h >> 8) % (256 * 1_024),
        }
    }

    /// The customer's subject key.
    pub fn key(&self, customer: usize) -> &str {
        self.keys.get(customer).map_or("", String::as_str)
    }

    /// The customer's tier: six in ten on `hobby`, three on `growth`, one on `scale`.
    pub fn tier_of(&self, customer: usize) -> usize {
        match mix(self.seed.wrapping_add(customer as u64)) % 10 {
            0..=5 => 0,
            6..=8 => 1,
            _ => 2,
        }
    }
}

/// SplitMix64's finaliser: a good spread from consecutive inputs.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// What was served: counts by outcome, and what this instance recorded in each customer's
/// latest minute (to check against the meter at the end).
#[derive(Default)]
pub struct Tally {
    /// Requests served.
    pub requests: u64,
    /// Requests allowed.
    pub allowed: u64,
    /// Requests denied, by the engine's reason.
    pub denied: BTreeMap<&'static str, u64>,
    /// Per tier: requests and per-minute denials.
    pub per_tier: [(u64, u64); 3],
    /// Requests counted against the minute and then refunded because their bytes were refused.
    pub refunded: u64,
    /// Per customer: the latest minute window's start and what was recorded in it.
    pub minutes: HashMap<usize, (i64, u64)>,
}

impl Tally {
    /// Adds another instance's tally to this one.
    pub fn merge(&mut self, other: Tally) {
        self.requests += other.requests;
        self.allowed += other.allowed;
        for (reason, n) in other.denied {
            *self.denied.entry(reason).or_default() += n;
        }
        for (mine, theirs) in self.per_tier.iter_mut().zip(other.per_tier) {
            *mine = (mine.0 + theirs.0, mine.1 + theirs.1);
        }
        self.refunded += other.refunded;
        for (customer, (start, recorded)) in other.minutes {
            self.record_minute(customer, start, recorded);
        }
    }

    /// The share of a tier's requests denied by the per-minute limit, in per cent.
    pub fn per_minute_denial_rate(&self, tier: usize) -> f64 {
        self.per_tier.get(tier).map_or(0.0, |&(n, denied)| if n == 0 { 0.0 } else { 100.0 * denied as f64 / n as f64 })
    }

    fn deny(&mut self, reason: Reason) {
        *self.denied.entry(reason.as_str()).or_default() += 1;
    }

    /// Adds `amount` to the customer's count for the minute starting at `window_start`: a
    /// later minute replaces an earlier one, an earlier minute is past and adds nothing.
    fn record_minute(&mut self, customer: usize, window_start: i64, amount: u64) {
        let entry = self.minutes.entry(customer).or_insert((window_start, 0));
        if window_start > entry.0 {
            *entry = (window_start, 0);
        }
        if window_start == entry.0 {
            entry.1 += amount;
        }
    }
}

/// Serves one request: the feature it asks for, then one request of the minute's limit, then
/// its bytes of the month's bandwidth; a request whose bytes are refused gives its minute
/// back, since it was not served.
#[expect(clippy::indexing_slicing, reason = "`tier_of` answers 0, 1 or 2, and both arrays have three")]
pub fn serve(
    engine: &Engine,
    ids: &Ids,
    meter: &dyn UsageMeter,
    traffic: &Traffic,
    call: &Call,
    tally: &mut Tally,
) -> Result<(), StoreError> {
    let tier = traffic.tier_of(call.customer);
    let request = Request::new(ids.tiers[tier], call.now).with_key(traffic.key(call.customer));
    tally.requests += 1;
    tally.per_tier[tier].0 += 1;
    if call.cached {
        let decision = engine.decide(&request, ids.edge_caching);
        if !decision.allowed {
            tally.deny(decision.reason);
            return Ok(());
        }
    }
    let minute = meter.try_consume(engine, &request, ids.per_minute, 1)?;
    if !minute.quota.allowed {
        tally.per_tier[tier].1 += 1;
        tally.deny(minute.quota.reason);
        return Ok(());
    }
    let window_start = minute.quota.window().map_or(0, |w| w.start);
    let bytes = meter.try_consume(engine, &request, ids.bandwidth, call.bytes)?;
    if !bytes.quota.allowed {
        let back = meter.refund(engine, &request, ids.per_minute, 1)?;
        tally.refunded += back;
        tally.record_minute(call.customer, window_start, 1 - back);
        tally.deny(bytes.quota.reason);
        return Ok(());
    }
    tally.record_minute(call.customer, window_start, 1);
    tally.allowed += 1;
    Ok(())
}

/// Compares what the tally says each customer used in the minute of `now` with what the
/// meter holds. Returns how many counters were compared and how many differ.
#[expect(clippy::indexing_slicing, reason = "`tier_of` answers 0, 1 or 2, and `tiers` has three")]
pub fn verify(
    engine: &Engine,
    ids: &Ids,
    meter: &dyn UsageMeter,
    traffic: &Traffic,
    tally: &Tally,
    now: i64,
) -> Result<(usize, usize), StoreError> {
    let (mut compared, mut differ) = (0, 0);
    for (&customer, &(start, recorded)) in &tally.minutes {
        let request = Request::new(ids.tiers[traffic.tier_of(customer)], now).with_key(traffic.key(customer));
        let held = meter.try_consume(engine, &request, ids.per_minute, 0)?;
        if held.quota.window().map(|w| w.start) != Some(start) {
            continue;
        }
        compared += 1;
        if held.used != recorded {
            differ += 1;
        }
    }
    Ok((compared, differ))
}

/// A progress line, rewritten in place (`\r`) about a hundred times over the run.
pub struct Progress<'w> {
    out: &'w mut dyn Write,
    total: u64,
    step: u64,
    started: Instant,
}

impl<'w> Progress<'w> {
    /// A progress line for `total` requests, written to `out`.
    pub fn new(out: &'w mut dyn Write, total: u64) -> Progress<'w> {
        Progress { out, total, step: (total / 100).max(1), started: Instant::now() }
    }

    /// Reports `done` requests; writes (and makes the note) only every hundredth of the run.
    pub fn tick(&mut self, done: u64, note: impl FnOnce() -> String) {
        if done.is_multiple_of(self.step) || done == self.total {
            self.show(done, &note());
        }
    }

    /// Writes the line for `done` requests.
    pub fn show(&mut self, done: u64, note: &str) {
        let seconds = self.started.elapsed().as_secs_f64().max(1e-9);
        let _ = write!(
            self.out,
            "\r  {done:>9} / {} requests  {:>3}%  {:>9.0} requests/s  {note:<24}",
            self.total,
            done * 100 / self.total.max(1),
            done as f64 / seconds,
        );
        let _ = self.out.flush();
    }

    /// Ends the line.
    pub fn finish(&mut self) {
        let _ = writeln!(self.out);
    }

    /// Seconds since the line started.
    pub fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}

/// The summary both examples print.
#[expect(clippy::indexing_slicing, reason = "three tier names, three tallies")]
pub fn summarise(out: &mut dyn Write, tally: &Tally, ids: &Ids) -> std::io::Result<()> {
    writeln!(out, "served {} requests: {} allowed", tally.requests, tally.allowed)?;
    for (reason, n) in &tally.denied {
        writeln!(out, "  denied {n:>8}  {reason}")?;
    }
    if tally.refunded > 0 {
        writeln!(out, "  {} requests counted, then refunded when their bytes were refused", tally.refunded)?;
    }
    for (tier, name) in ids.tier_names.iter().enumerate() {
        let (n, _) = tally.per_tier[tier];
        writeln!(
            out,
            "  {name:<7} {n:>8} requests, {:5.1}% over the per-minute limit",
            tally.per_minute_denial_rate(tier)
        )?;
    }
    Ok(())
}
