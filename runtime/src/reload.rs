//! Hot reload: the engine in service, replaced without a restart and without readers waiting.
//!
//! A [`Live`] holds the current engine together with the ids the service resolved against
//! it, as one value swapped in one step. A reader's [`Live::load`] gets both from the same
//! engine, so ids resolved against an old policy are never applied to a new one: a reload
//! resolves them again, and a policy that does not check, or that no longer declares what the
//! service resolves, is refused while the old one keeps serving.
//!
//! A [`Live`] also holds the per-customer override set in service ([`Current::overrides`]),
//! swapped on its own ([`Live::reload_overrides_source`], [`Live::reload_overrides_path`],
//! [`Live::watch_overrides`]) and checked against the engine it will serve with. A policy
//! reload checks the override set in service again against the new policy and refuses the
//! pair when they no longer agree (a record that names a feature the new policy dropped), so
//! the engine, its ids and its overrides always come from one load.
//!
//! ```
//! use entitle::{Engine, FeatureId, Request, TierId};
//! use entitle_runtime::reload::Live;
//!
//! struct Ids { pro: TierId, hd_video: FeatureId }
//!
//! let resolve = |engine: &Engine| -> Result<Ids, String> {
//!     Ok(Ids {
//!         pro: engine.tier("pro").ok_or("no tier `pro`")?,
//!         hd_video: engine.feature("hd_video").ok_or("no feature `hd_video`")?,
//!     })
//! };
//! let v1 = "policy \"p\"\nfeature hd_video\ntier pro { grant hd_video }\n";
//! let live = Live::new(Engine::from_source("v1", v1)?, resolve)?;
//!
//! // On the hot path: the engine and the ids always come from the same policy.
//! let current = live.load();
//! assert!(current.engine.is_allowed(&Request::new(current.ids.pro, 0), current.ids.hd_video));
//!
//! // A new policy that drops `hd_video` is refused; the old one keeps serving.
//! assert!(live.reload_source("v2", "policy \"p\"\ntier pro { }\n").is_err());
//! assert_eq!(live.load().generation, 0);
//!
//! // One that keeps it (at another id) is swapped in with its own ids.
//! let v3 = "policy \"p\"\nfeature sso\nfeature hd_video\ntier pro { grant hd_video }\n";
//! assert_eq!(live.reload_source("v3", v3)?.generation, 1);
//! let current = live.load();
//! assert_eq!(current.engine.feature_name(current.ids.hd_video), Some("hd_video"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::{ArcSwap, Guard};
use entitle::{Diagnostics, Engine, LoadError, Overrides, PolicyHash};

/// The engine in service and what the service resolved against it.
#[derive(Debug)]
#[non_exhaustive]
pub struct Current<T> {
    /// The engine.
    pub engine: Engine,
    /// The ids (or anything else) the resolver derived from this engine.
    pub ids: T,
    /// 0 for the first engine, one more for each reload that succeeded (of the policy or
    /// of the overrides).
    pub generation: u64,
    /// The override set in service, checked against this engine; `None` when none is loaded.
    /// Give it to each request with [`entitle::Request::with_overrides`].
    pub overrides: Option<Overrides>,
    /// The override set's text and name, to check it again against the next policy.
    override_source: Option<Arc<(String, String)>>,
}

/// What a successful reload swapped in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reloaded {
    /// The new engine's generation.
    pub generation: u64,
    /// The new policy's source hash.
    pub policy_hash: PolicyHash,
}

/// Why a reload was refused. The engine in service is unchanged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReloadError {
    /// The file could not be read, or is a bundle that cannot be loaded.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The new policy does not check; every diagnostic is here.
    #[error(transparent)]
    Policy(#[from] Diagnostics),
    /// The resolver refused the new engine (it lacks something the service needs).
    #[error("the new policy was refused by the service: {0}")]
    Resolve(String),
    /// The override set does not check against the engine it would serve with: a new set
    /// with errors, or the set in service against a new policy; every diagnostic is here.
    #[error("the override set does not check against the policy: {0}")]
    Overrides(Diagnostics),
}

type Resolver<T> = Box<dyn Fn(&Engine) -> Result<T, String> + Send + Sync>;

/// The live engine: loaded lock-free by readers, replaced atomically by reloads.
pub struct Live<T> {
    current: ArcSwap<Current<T>>,
    resolve: Resolver<T>,
    /// Serialises reloads, so generations are consecutive and two reloads never race.
    reloading: std::sync::Mutex<()>,
}

impl<T> std::fmt::Debug for Live<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let current = self.current.load();
        f.debug_struct("Live").field("generation", &current.generation).finish_non_exhaustive()
    }
}

/// A reader's view of the live engine: the engine and its ids, from one generation.
pub struct Snapshot<T>(Guard<Arc<Current<T>>>);

impl<T> std::ops::Deref for Snapshot<T> {
    type Target = Current<T>;
    fn deref(&self) -> &Current<T> {
        &self.0
    }
}

impl<T> Live<T> {
    /// Serves `engine`, with what `resolve` derives from it (and from every later engine).
    pub fn new(
        engine: Engine,
        resolve: impl Fn(&Engine) -> Result<T, String> + Send + Sync + 'static,
    ) -> Result<Live<T>, ReloadError> {
        let ids = resolve(&engine).map_err(ReloadError::Resolve)?;
        Ok(Live {
            current: ArcSwap::from_pointee(Current {
                engine,
                ids,
                generation: 0,
                overrides: None,
                override_source: None,
            }),
            resolve: Box::new(resolve),
            reloading: std::sync::Mutex::new(()),
        })
    }

    /// The engine in service and its ids. No lock; hold the snapshot for one request, not
    /// longer (a held snapshot keeps its engine alive after a reload).
    pub fn load(&self) -> Snapshot<T> {
        Snapshot(self.current.load())
    }

    /// The engine in service as an owned handle, for work that outlives one request.
    pub fn load_full(&self) -> Arc<Current<T>> {
        self.current.load_full()
    }

    /// Replaces the engine with `engine`, once the resolver accepts it and the override set
    /// in service (if any) checks against it.
    pub fn replace(&self, engine: Engine) -> Result<Reloaded, ReloadError> {
        self.replace_pair(engine, None)
    }

    /// Replaces the engine and the override set together, once the resolver accepts the
    /// engine and the set (JSON Lines `text`, cited as `name`) checks against it: the way to
    /// deploy a policy change and the override change that goes with it (a renamed feature and
    /// the records that name it), which one at a time would each be refused.
    pub fn replace_with_overrides(&self, engine: Engine, name: &str, text: &str) -> Result<Reloaded, ReloadError> {
        self.replace_pair(engine, Some(Arc::new((name.to_string(), text.to_string()))))
    }

    /// Loads a policy file (or bundle) and an override file and swaps both in together, as
    /// [`Live::replace_with_overrides`] does.
    pub fn reload_paths(&self, policy: impl AsRef<Path>, overrides: impl AsRef<Path>) -> Result<Reloaded, ReloadError> {
        let engine = Engine::from_path(policy)?;
        let path = overrides.as_ref();
        let text = read_override_file(path, &engine)?;
        self.replace_with_overrides(engine, &path.display().to_string(), &text)
    }

    /// [`Live::replace`], with a new override source or (`None`) the one in service.
    fn replace_pair(&self, engine: Engine, source: Option<Arc<(String, String)>>) -> Result<Reloaded, ReloadError> {
        let ids = (self.resolve)(&engine).map_err(ReloadError::Resolve)?;
        let _one_at_a_time = self.reloading.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let serving = self.current.load();
        let override_source = source.or_else(|| serving.override_source.clone());
        let overrides = match &override_source {
            Some(source) => Some(check_overrides(&engine, &source.0, &source.1)?),
            None => None,
        };
        let generation = serving.generation + 1;
        let policy_hash = engine.policy_hash();
        self.current.store(Arc::new(Current { engine, ids, generation, overrides, override_source }));
        Ok(Reloaded { generation, policy_hash })
    }

    /// Checks a JSON Lines override set (`name` is how diagnostics cite it) against the engine
    /// in service and swaps it in beside it; a set with errors is refused with its
    /// diagnostics, and the set in service keeps serving.
    ///
    /// ```
    /// use entitle::{Engine, Reason, Request};
    /// use entitle_runtime::reload::Live;
    /// let policy = "policy \"p\"\nfeature sso\ntier free { }\n";
    /// let live = Live::new(Engine::from_source("p", policy)?, |e: &Engine| e.feature("sso").ok_or("no sso".to_string()))?;
    /// live.reload_overrides_source("o.jsonl", r#"{"subject":"acme","feature":"sso","op":"grant"}"#)?;
    /// let current = live.load();
    /// let overrides = current.overrides.as_ref().unwrap();
    /// let request = Request::new(current.engine.tier("free").unwrap(), 0).with_key("acme").with_overrides(overrides);
    /// assert_eq!(current.engine.decide(&request, current.ids).reason, Reason::GrantedByOverride);
    ///
    /// // A policy that drops `sso` no longer agrees with the set: the pair is refused.
    /// # drop(current);
    /// assert!(live.reload_source("p2", "policy \"p\"\nfeature hd\ntier free { }\n").is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reload_overrides_source(&self, name: &str, text: &str) -> Result<Reloaded, ReloadError> {
        self.swap_overrides(Some(Arc::new((name.to_string(), text.to_string()))))
    }

    /// Reads a JSON Lines override file and swaps it in, as
    /// [`Live::reload_overrides_source`] does.
    pub fn reload_overrides_path(&self, path: impl AsRef<Path>) -> Result<Reloaded, ReloadError> {
        let path = path.as_ref();
        let text = read_override_file(path, &self.current.load().engine)?;
        self.reload_overrides_source(&path.display().to_string(), &text)
    }

    /// Stops applying overrides: the engine answers from the plans alone.
    pub fn clear_overrides(&self) -> Result<Reloaded, ReloadError> {
        self.swap_overrides(None)
    }

    /// Swaps in the override set of `source` (or none) beside the engine in service, with the
    /// engine's ids resolved again (the same engine resolves to the same ids).
    fn swap_overrides(&self, source: Option<Arc<(String, String)>>) -> Result<Reloaded, ReloadError> {
        let _one_at_a_time = self.reloading.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let serving = self.current.load();
        let engine = serving.engine.clone();
        let overrides = match &source {
            Some(source) => Some(check_overrides(&engine, &source.0, &source.1)?),
            None => None,
        };
        let ids = (self.resolve)(&engine).map_err(ReloadError::Resolve)?;
        let generation = serving.generation + 1;
        let policy_hash = engine.policy_hash();
        self.current.store(Arc::new(Current { engine, ids, generation, overrides, override_source: source }));
        Ok(Reloaded { generation, policy_hash })
    }

    /// Checks and compiles policy text and swaps it in; a policy with errors is refused with
    /// its diagnostics.
    pub fn reload_source(&self, name: &str, text: &str) -> Result<Reloaded, ReloadError> {
        self.replace(Engine::from_source(name, text)?)
    }

    /// Loads a policy file or a compiled bundle and swaps it in.
    pub fn reload_path(&self, path: impl AsRef<Path>) -> Result<Reloaded, ReloadError> {
        self.replace(Engine::from_path(path)?)
    }
}

/// The override set `text` checked against `engine`.
fn check_overrides(engine: &Engine, name: &str, text: &str) -> Result<Overrides, ReloadError> {
    Overrides::from_jsonl(engine, name, text).map_err(ReloadError::Overrides)
}

/// The text of the override file at `path`, held to the engine's `override_bytes` limit.
fn read_override_file(path: &Path, engine: &Engine) -> Result<String, ReloadError> {
    let source = entitle::read_text_file(path, engine.input_limits().override_bytes)?;
    Ok(source.text().to_string())
}

impl<T: Send + Sync + 'static> Live<T> {
    /// Watches `path` from a background thread, which checks its modification time, length
    /// and (on Unix) inode every `interval` and reloads when any of them changes, telling
    /// `report` each outcome (a refused reload leaves the old engine serving). When the watch
    /// starts, the file is read once and swapped in if it is not the policy in service, so a
    /// change made before the watch began is not missed; a file that disappears is reported
    /// as a failed reload, and loaded again when it comes back. Write the file
    /// atomically (as `entitle build` and `entitle fmt --write` do) so a reload never reads
    /// half of it. The thread stops when the returned [`Watcher`] is dropped.
    pub fn watch(
        self: &Arc<Self>,
        path: impl Into<PathBuf>,
        interval: Duration,
        report: impl Fn(Result<Reloaded, ReloadError>) + Send + 'static,
    ) -> Watcher {
        // The file may have changed between loading the engine in service and this watch:
        // it is read once and swapped in unless it is the policy already serving.
        let first = |live: &Live<T>, path: &Path| {
            let serving = live.load().engine.policy_hash();
            match Engine::from_path(path) {
                Ok(engine) if engine.policy_hash() == serving => None,
                Ok(engine) => Some(live.replace(engine)),
                Err(error) => Some(Err(error.into())),
            }
        };
        self.watch_with(path.into(), interval, first, |live, path| live.reload_path(path), report)
    }

    /// Watches the JSON Lines override file at `path` as [`Live::watch`] watches a policy:
    /// the file is read and swapped in when the watch starts and whenever it changes, each
    /// outcome told to `report`; a set that does not check against the engine in service is
    /// refused and the set in service keeps serving.
    pub fn watch_overrides(
        self: &Arc<Self>,
        path: impl Into<PathBuf>,
        interval: Duration,
        report: impl Fn(Result<Reloaded, ReloadError>) + Send + 'static,
    ) -> Watcher {
        let load = |live: &Live<T>, path: &Path| live.reload_overrides_path(path);
        self.watch_with(path.into(), interval, move |live, path| Some(load(live, path)), load, report)
    }

    /// The watching thread of [`Live::watch`] and [`Live::watch_overrides`]: after the first
    /// stamp, `first` (whose `None` reports nothing), then `reload` on every change of the
    /// file's stamp. A file that disappears is reported too (the read fails), once; what is
    /// in service keeps serving, and the file is loaded again when it returns.
    fn watch_with(
        self: &Arc<Self>,
        path: PathBuf,
        interval: Duration,
        first: impl Fn(&Live<T>, &Path) -> Option<Result<Reloaded, ReloadError>> + Send + 'static,
        reload: impl Fn(&Live<T>, &Path) -> Result<Reloaded, ReloadError> + Send + 'static,
        report: impl Fn(Result<Reloaded, ReloadError>) + Send + 'static,
    ) -> Watcher {
        let stop = Arc::new(AtomicBool::new(false));
        let live = Arc::clone(self);
        let stopped = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            // A change after the first stamp is seen by the polls.
            let mut seen = Stamp::of(&path);
            if let Some(outcome) = first(&live, &path) {
                report(outcome);
            }
            while !stopped.load(Ordering::Relaxed) {
                std::thread::park_timeout(interval);
                let now = Stamp::of(&path);
                if now != seen {
                    seen = now;
                    report(reload(&live, &path));
                }
            }
        });
        Watcher { stop, thread: Some(thread) }
    }
}

/// What tells one version of a watched file from the next: its modification time, its
/// length and, on Unix, its inode. An atomic replace (a new file renamed over the old) always
/// brings a new inode, so a change is seen even where the file system keeps modification
/// times to the second and the new file is written within the same second.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

impl Stamp {
    fn of(path: &Path) -> Option<Stamp> {
        let metadata = std::fs::metadata(path).ok()?;
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&metadata);
        #[cfg(not(unix))]
        let inode = 0;
        Some(Stamp { modified: metadata.modified().ok(), len: metadata.len(), inode })
    }
}

/// A file watch started by [`Live::watch`]; dropping it stops the watching thread.
#[derive(Debug)]
pub struct Watcher {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}
