//! `entitle._entitle`: the Python extension module, over the Rust engine directly.
//!
//! The answer types (`Decision`, `Quota`, `Setting`, the `Reason` and `Status` enums) and the
//! exceptions are plain Python in `entitle/_types.py`, so they stay frozen dataclasses and
//! `str`-valued enums with their hints; this module builds them from the engine's answers. The
//! `Engine` and `Request` classes are native and frozen: a request's fields, names resolved to
//! this engine's ids once, cannot change after it is made.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use entitle::{
    AddonId, Engine, FeatureId, Held, LimitId, Limits, LoadError, OverrideChange, Overrides, Reason, SettingId,
    SettingValue, Source, TierId,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyByteArray, PyBytes, PyDict, PyInt, PyList, PyMapping, PyString, PyTuple};

/// What this module takes from `entitle._types`, imported once.
struct Types {
    /// One `Decision` for each (reason, allowed) pair, at `2 * reason + allowed`: the
    /// dataclass is frozen, so every answer with the same fields can be the same object, and
    /// a decision costs a lookup instead of a dataclass's `__init__`.
    decisions: Vec<Py<PyAny>>,
    quota: Py<PyAny>,
    entitlements: Py<PyAny>,
    limit_batch: Py<PyAny>,
    draw: Py<PyAny>,
    window: Py<PyAny>,
    setting: Py<PyAny>,
    held: Py<PyAny>,
    override_record: Py<PyAny>,
    /// The `Reason` members, indexed by the engine's stable reason numbers.
    reasons: Vec<Py<PyAny>>,
    /// The `Status` members, indexed by the engine's stable status numbers.
    statuses: Vec<Py<PyAny>>,
    /// The `SettingKind` members: number, percent, duration, bytes, text.
    kinds: [Py<PyAny>; 5],
    /// `object.__new__`, to make answers without their dataclass's `__init__`.
    object_new: Py<PyAny>,
    entitle_error: Py<PyAny>,
    policy_error: Py<PyAny>,
    query_error: Py<PyAny>,
    aware_seconds: Py<PyAny>,
    json_loads: Py<PyAny>,
    json_dumps: Py<PyAny>,
    unlimited: Py<PyAny>,
}

static TYPES: PyOnceLock<Types> = PyOnceLock::new();

fn types(py: Python<'_>) -> PyResult<&Types> {
    TYPES.get_or_try_init(py, || {
        let module = py.import("entitle._types")?;
        let json = py.import("json")?;
        let get = |name: &str| module.getattr(name).map(Bound::unbind);
        let reason_class = module.getattr("Reason")?;
        let status = module.getattr("Status")?;
        let kind = module.getattr("SettingKind")?;
        let member = |class: &Bound<'_, PyAny>, name: &str| class.call1((name,)).map(Bound::unbind);
        let decision = module.getattr("Decision")?;
        let mut decisions = Vec::with_capacity(Reason::ALL.len() * 2);
        for reason in Reason::ALL {
            for allowed in [false, true] {
                decisions.push(decision.call1((allowed, member(&reason_class, reason.as_str())?))?.unbind());
            }
        }
        Ok::<_, PyErr>(Types {
            decisions,
            quota: get("Quota")?,
            entitlements: get("Entitlements")?,
            limit_batch: get("LimitBatch")?,
            draw: get("Draw")?,
            window: get("Window")?,
            setting: get("Setting")?,
            held: get("Held")?,
            override_record: get("OverrideRecord")?,
            reasons: Reason::ALL.iter().map(|r| member(&reason_class, r.as_str())).collect::<PyResult<_>>()?,
            statuses: entitle::Status::ALL.iter().map(|s| member(&status, s.as_str())).collect::<PyResult<_>>()?,
            kinds: [
                member(&kind, "number")?,
                member(&kind, "percent")?,
                member(&kind, "duration")?,
                member(&kind, "bytes")?,
                member(&kind, "text")?,
            ],
            object_new: py.import("builtins")?.getattr("object")?.getattr("__new__")?.unbind(),
            entitle_error: get("EntitleError")?,
            policy_error: get("_policy_error")?,
            query_error: get("QueryError")?,
            aware_seconds: get("_aware_seconds")?,
            json_loads: json.getattr("loads")?.unbind(),
            json_dumps: json.getattr("dumps")?.unbind(),
            unlimited: get("UNLIMITED")?,
        })
    })
}

impl Types {
    fn reason<'py>(&self, py: Python<'py>, reason: Reason) -> PyResult<&Bound<'py, PyAny>> {
        let number = usize::try_from(reason as u32).unwrap_or(usize::MAX);
        match self.reasons.get(number) {
            Some(member) => Ok(member.bind(py)),
            None => Err(PyValueError::new_err(format!("entitle: no Python reason for `{}`", reason.as_str()))),
        }
    }

    fn status<'py>(&self, py: Python<'py>, status: entitle::Status) -> PyResult<&Bound<'py, PyAny>> {
        let number = usize::try_from(status as u32).unwrap_or(usize::MAX);
        match self.statuses.get(number) {
            Some(member) => Ok(member.bind(py)),
            None => Err(PyValueError::new_err(format!("entitle: no Python status for `{}`", status.as_str()))),
        }
    }

    /// The shared `Decision` of an answer.
    fn decision<'py>(&self, py: Python<'py>, allowed: bool, reason: Reason) -> PyResult<&Bound<'py, PyAny>> {
        let index = usize::try_from(reason as u32).unwrap_or(usize::MAX).saturating_mul(2) | usize::from(allowed);
        match self.decisions.get(index) {
            Some(decision) => Ok(decision.bind(py)),
            None => Err(PyValueError::new_err(format!("entitle: no Python reason for `{}`", reason.as_str()))),
        }
    }

    /// An instance of a frozen dataclass with `fields`, in the order the class declares them,
    /// made as `__init__` would leave it: `object.__new__(class)` with each field written to
    /// its `__dict__`. A frozen dataclass's `__init__` sets each field through
    /// `object.__setattr__`, which made a `Quota` cost microseconds.
    fn frozen<'py>(
        &self,
        py: Python<'py>,
        class: &Py<PyAny>,
        fields: &[(&Bound<'py, PyString>, &Bound<'py, PyAny>)],
    ) -> PyResult<Bound<'py, PyAny>> {
        let object = self.object_new.bind(py).call1((class.bind(py),))?;
        let dict = object.getattr(intern!(py, "__dict__"))?.cast_into::<PyDict>()?;
        for (name, value) in fields {
            dict.set_item(name, value)?;
        }
        Ok(object)
    }

    /// The `Quota` of an answer.
    fn quota<'py>(&self, py: Python<'py>, quota: &entitle::Quota) -> PyResult<Bound<'py, PyAny>> {
        let none = py.None().into_bound(py);
        let window = match quota.window() {
            Some(w) => {
                let (start, end) = (w.start.into_pyobject(py)?.into_any(), w.end.into_pyobject(py)?.into_any());
                let rolling = PyBool::new(py, quota.rolling()).to_owned().into_any();
                let fields =
                    [(intern!(py, "start"), &start), (intern!(py, "end"), &end), (intern!(py, "rolling"), &rolling)];
                self.frozen(py, &self.window, &fields)?
            }
            None => none.clone(),
        };
        let soft_cap = match quota.soft_cap {
            Some(cap) => self.amount(py, cap)?,
            None => none,
        };
        let fields = [
            (intern!(py, "allowed"), &PyBool::new(py, quota.allowed).to_owned().into_any()),
            (intern!(py, "reason"), self.reason(py, quota.reason)?),
            (intern!(py, "status"), self.status(py, quota.status)?),
            (intern!(py, "limit"), &self.amount(py, quota.limit)?),
            (intern!(py, "soft_cap"), &soft_cap),
            (intern!(py, "remaining"), &self.amount(py, quota.remaining)?),
            (intern!(py, "window"), &window),
            (intern!(py, "seats"), &quota.seats.into_pyobject(py)?.into_any()),
            (intern!(py, "overridden"), &PyBool::new(py, quota.overridden()).to_owned().into_any()),
        ];
        self.frozen(py, &self.quota, &fields)
    }

    /// The `Setting` of a value.
    fn setting<'py>(&self, py: Python<'py>, value: &SettingValue) -> PyResult<Bound<'py, PyAny>> {
        let [number, percent, duration, bytes, text] = &self.kinds;
        let (kind, base) = match value {
            SettingValue::Number(n) => (number, n.into_pyobject(py)?.into_any()),
            SettingValue::Percent(p) => (percent, p.millionths().into_pyobject(py)?.into_any()),
            SettingValue::Duration(n) => (duration, n.into_pyobject(py)?.into_any()),
            SettingValue::Bytes(n) => (bytes, n.into_pyobject(py)?.into_any()),
            SettingValue::Text(t) => (text, PyString::new(py, t).into_any()),
        };
        self.setting.bind(py).call1((kind.bind(py), base, value.to_string()))
    }

    fn amount<'py>(&self, py: Python<'py>, amount: entitle::Amount) -> PyResult<Bound<'py, PyAny>> {
        match amount {
            entitle::Amount::Finite(n) => Ok(n.into_pyobject(py)?.into_any()),
            entitle::Amount::Unlimited => Ok(self.unlimited.bind(py).clone()),
        }
    }

    fn json<'py>(&self, py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
        self.json_loads.bind(py).call1((text,))
    }

    /// `EntitleError(message, status)`, to raise.
    fn error(&self, py: Python<'_>, message: String, status: &str) -> PyErr {
        match self.entitle_error.bind(py).call1((message, status)) {
            Ok(error) => PyErr::from_value(error),
            Err(error) => error,
        }
    }
}

/// The name of a value's type, for `TypeError` messages.
fn type_name(value: &Bound<'_, PyAny>) -> String {
    value.get_type().name().map_or_else(|_| "?".to_string(), |name| name.to_string())
}

fn wrong_type(parameter: &str, takes: &str, value: &Bound<'_, PyAny>) -> PyErr {
    PyTypeError::new_err(format!("entitle: `{parameter}` takes {takes}, not {}", type_name(value)))
}

/// An `int` that is not a `bool` (which Python counts as one).
fn plain_int<'a, 'py>(value: &'a Bound<'py, PyAny>) -> Option<&'a Bound<'py, PyInt>> {
    if value.is_instance_of::<PyBool>() {
        return None;
    }
    value.cast::<PyInt>().ok()
}

/// An optional argument as given: `Missing` when left out, so that an explicit `None` is a
/// value like any other, and a wrong type for the parameters that take no `None`.
enum Given<'py> {
    Missing,
    Value(Bound<'py, PyAny>),
}

impl<'a, 'py> FromPyObject<'a, 'py> for Given<'py> {
    type Error = PyErr;

    fn extract(value: Borrowed<'a, 'py, PyAny>) -> PyResult<Given<'py>> {
        Ok(Given::Value(value.to_owned()))
    }
}

impl<'py> Given<'py> {
    fn get(&self) -> Option<&Bound<'py, PyAny>> {
        match self {
            Given::Missing => None,
            Given::Value(value) => Some(value),
        }
    }
}

/// A name or an id, as a question's `feature`, `limit` or `setting` argument gives it.
enum Item<'a> {
    /// A name, borrowed from the `str` where it is UTF-8 already.
    Name(Cow<'a, str>),
    Id(u32),
    /// An int that is no id of any engine (negative, or past 32 bits): answered as unknown.
    NoId,
}

fn item<'a>(value: &'a Bound<'_, PyAny>, parameter: &str, kind: &str) -> PyResult<Item<'a>> {
    if let Some(int) = plain_int(value) {
        return Ok(int.extract::<u32>().map_or(Item::NoId, Item::Id));
    }
    if let Ok(text) = value.cast::<PyString>() {
        return Ok(Item::Name(text.to_cow()?));
    }
    Err(wrong_type(parameter, &format!("a {kind} name (str) or id (int)"), value))
}

/// An id from an exact `int`, the hot path of every question by id: one type check and one
/// conversion, none of the checks for other types. `None` for any other type.
fn exact_id(value: &Bound<'_, PyAny>) -> Option<u32> {
    value.cast_exact::<PyInt>().ok().map(|int| int.extract::<u32>().unwrap_or(NO_ID))
}

/// Calls `each` on the items of a sequence argument: a list, a tuple, or any other iterable
/// but a `str` or `bytes`, which would be taken one character at a time. `takes` says what
/// the parameter takes; `one_name` adds that a str is one name, for lists of names.
fn for_each<'py>(
    value: &Bound<'py, PyAny>,
    parameter: &str,
    takes: &str,
    one_name: bool,
    mut each: impl FnMut(&Bound<'py, PyAny>) -> PyResult<()>,
) -> PyResult<()> {
    if value.is_instance_of::<PyString>() || value.is_instance_of::<PyBytes>() {
        let hint = if one_name { "; a str is one name, so give [name]" } else { "" };
        return Err(wrong_type(parameter, &format!("{takes}{hint}"), value));
    }
    // A list is copied to a tuple first: the copy takes its references in one C loop, and a
    // tuple's items can then be read borrowed, where a list's each cost a reference taken and
    // dropped through the stable ABI's functions.
    if let Ok(list) = value.cast::<PyList>() {
        return list.to_tuple().iter_borrowed().try_for_each(|item| each(&item));
    }
    if let Ok(tuple) = value.cast::<PyTuple>() {
        return tuple.iter_borrowed().try_for_each(|item| each(&item));
    }
    match value.try_iter() {
        Ok(iter) => iter.into_iter().try_for_each(|item| each(&item?)),
        Err(_) => Err(wrong_type(parameter, takes, value)),
    }
}

/// How many items a sequence argument has, when it says so cheaply; for a buffer's capacity.
fn size_hint(value: &Bound<'_, PyAny>) -> usize {
    value.len().unwrap_or(0)
}

/// A count of used or requested units: an int from 0 up, not a bool.
fn count(value: Option<&Bound<'_, PyAny>>, parameter: &str) -> PyResult<u64> {
    let Some(value) = value else { return Ok(0) };
    let Some(int) = plain_int(value) else {
        return Err(wrong_type(parameter, "a count (int)", value));
    };
    int.extract::<u64>()
        .map_err(|_| PyValueError::new_err(format!("entitle: `{parameter}` is {int}, not a count from 0 to 2**64 - 1")))
}

/// Gives each engine a number, so that a request knows which engine made it.
static ENGINES: AtomicU64 = AtomicU64::new(1);

/// A compiled policy. Load with `from_path`, `from_source` or `from_bundle`; query from any
/// thread.
#[pyclass(frozen, module = "entitle", name = "Engine")]
struct PyEngine {
    engine: Engine,
    serial: u64,
    /// How many add-ons a request may hold (the engine's input limit).
    held_addons: usize,
}

/// Who is asking and when, made by `Engine.request` and answered by that engine only.
///
/// Frozen: its fields cannot be reassigned, so the ids resolved when it was made always
/// match them.
#[pyclass(frozen, module = "entitle", name = "Request")]
struct PyRequest {
    serial: u64,
    tier_given: Py<PyAny>,
    addons_given: Py<PyTuple>,
    key: String,
    billing_anchor: u8,
    now: i64,
    tier: TierId,
    addons: Vec<Held<AddonId>>,
    /// The seat count, when given.
    seats: Option<u64>,
    /// Why every question about this request is a deny, when one is: an unknown tier, more
    /// add-ons than the engine takes, or an unknown add-on, in the order the by-name queries
    /// of the engine check them.
    refusal: Option<Reason>,
    /// The `Overrides` given, or None, as the `overrides` getter returns it.
    overrides_given: Py<PyAny>,
    /// The set given, kept (an `Arc` clone) only when it holds records for this request's
    /// key: for any other key `Request::with_overrides` finds no subject and the questions
    /// answer from the plan alone, so they skip the key's lookup.
    overrides: Option<Overrides>,
}

/// A checked set of per-customer overrides, made by `Overrides.from_jsonl` or
/// `Overrides.from_path` against one engine and given to that engine's `request`. Frozen; an
/// `Arc` over the Rust set, so every request that holds it shares it.
#[pyclass(frozen, module = "entitle", name = "Overrides")]
struct PyOverrides {
    overrides: Overrides,
    /// The engine the set was checked against, for the names its records change.
    engine: Engine,
}

/// Features resolved to ids once, for the batch calls of a page asked again and again (a
/// pricing table, a settings screen): made by `Engine.feature_list` and read by that engine's
/// `is_allowed_many` and `decide_many` with no conversion of each item. Frozen.
#[pyclass(frozen, module = "entitle", name = "FeatureList")]
struct PyFeatureList {
    serial: u64,
    given: Py<PyTuple>,
    ids: Vec<FeatureId>,
}

#[pymethods]
impl PyFeatureList {
    fn __len__(&self) -> usize {
        self.ids.len()
    }

    /// The features as given: names or ids.
    #[getter]
    fn features(&self, py: Python<'_>) -> Py<PyTuple> {
        self.given.clone_ref(py)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!("FeatureList({})", self.given.bind(py).repr()?))
    }
}

/// An id no engine hands out, which every engine answers as unknown.
const NO_ID: u32 = u32::MAX;

impl PyEngine {
    fn new(engine: Engine) -> PyEngine {
        let held_addons = engine.input_limits().held_addons.min(Limits::MAX_HELD_ADDONS);
        PyEngine { engine, serial: ENGINES.fetch_add(1, Ordering::Relaxed), held_addons }
    }

    /// The request, after checking that this engine made it.
    fn own<'a>(&self, request: &'a PyRequest) -> PyResult<&'a PyRequest> {
        if request.serial == self.serial {
            Ok(request)
        } else {
            Err(PyValueError::new_err(
                "entitle: the request was made by another engine; make it with this engine's `request`",
            ))
        }
    }

    fn feature_id(&self, feature: &Bound<'_, PyAny>) -> PyResult<FeatureId> {
        if let Some(id) = exact_id(feature) {
            return Ok(FeatureId::from_u32(id));
        }
        Ok(FeatureId::from_u32(match item(feature, "feature", "feature")? {
            Item::Name(name) => self.engine.feature(&name).map_or(NO_ID, FeatureId::as_u32),
            Item::Id(id) => id,
            Item::NoId => NO_ID,
        }))
    }

    fn limit_id(&self, limit: &Bound<'_, PyAny>) -> PyResult<LimitId> {
        if let Some(id) = exact_id(limit) {
            return Ok(LimitId::from_u32(id));
        }
        Ok(LimitId::from_u32(match item(limit, "limit", "limit")? {
            Item::Name(name) => self.engine.limit(&name).map_or(NO_ID, LimitId::as_u32),
            Item::Id(id) => id,
            Item::NoId => NO_ID,
        }))
    }

    /// The ids of a list of features, for a batch call: a `FeatureList`'s own, or those of
    /// each item of a sequence.
    fn feature_ids<'a>(&self, features: &'a Bound<'_, PyAny>) -> PyResult<Cow<'a, [FeatureId]>> {
        if let Ok(list) = features.cast::<PyFeatureList>() {
            let list = list.get();
            if list.serial != self.serial {
                return Err(PyValueError::new_err(
                    "entitle: the feature list was made by another engine; make it with this engine's `feature_list`",
                ));
            }
            return Ok(Cow::Borrowed(&list.ids));
        }
        Ok(Cow::Owned(self.each_feature_id(features)?))
    }

    fn each_feature_id(&self, features: &Bound<'_, PyAny>) -> PyResult<Vec<FeatureId>> {
        let takes = [
            "a sequence of feature names (str) or ids (int)",
            "a sequence whose items are feature names (str) or ids (int)",
        ];
        each_id(features, "features", takes, FeatureId::from_u32, |feature| self.feature_id(feature))
    }

    /// The ids of a list of limits, for a batch call.
    fn limit_ids(&self, limits: &Bound<'_, PyAny>) -> PyResult<Vec<LimitId>> {
        let takes = [
            "a sequence of limit names (str) or ids (int)",
            "a sequence whose items are limit names (str) or ids (int)",
        ];
        each_id(limits, "limits", takes, LimitId::from_u32, |limit| self.limit_id(limit))
    }

    /// The request (checked to be this engine's), the limit's id and the usage of a question
    /// about a limit.
    fn limit_question<'r>(
        &self,
        request: &'r PyRequest,
        limit: &Bound<'_, PyAny>,
        used: &Given<'_>,
        requested: &Given<'_>,
    ) -> PyResult<(&'r PyRequest, LimitId, entitle::Usage)> {
        let request = self.own(request)?;
        let id = self.limit_id(limit)?;
        let usage =
            entitle::Usage { used: count(used.get(), "used")?, requested: count(requested.get(), "requested")? };
        Ok((request, id, usage))
    }

    fn setting_id(&self, setting: &Bound<'_, PyAny>) -> PyResult<SettingId> {
        Ok(SettingId::from_u32(match item(setting, "setting", "setting")? {
            Item::Name(name) => self.engine.setting(&name).map_or(NO_ID, SettingId::as_u32),
            Item::Id(id) => id,
            Item::NoId => NO_ID,
        }))
    }

    /// The engine's decisions for `features`, or the request's refusal for each.
    fn decisions(&self, request: &PyRequest, features: &[FeatureId]) -> PyResult<Vec<entitle::Decision>> {
        let mut answers = vec![entitle::Decision::default(); features.len()];
        match request.refusal {
            Some(reason) => answers.iter_mut().for_each(|answer| answer.reason = reason),
            None => {
                self.engine.decide_many(&ids(request), features, &mut answers).map_err(batch_error)?;
            }
        }
        Ok(answers)
    }

    /// The engine's quotas for `limits`, or the request's refusal for each.
    fn quotas(&self, request: &PyRequest, limits: &[(LimitId, entitle::Usage)]) -> PyResult<Vec<entitle::Quota>> {
        match request.refusal {
            Some(reason) => Ok(vec![refused_quota(reason); limits.len()]),
            None => {
                let mut answers = vec![entitle::Quota::default(); limits.len()];
                self.engine.check_limit_many(&ids(request), limits, &mut answers).map_err(batch_error)?;
                Ok(answers)
            }
        }
    }

    /// The questions of a call about several limits: each of `limits` (names or ids) with its
    /// `used` and `requested` count (sequences as long as `limits`; None for 0s).
    fn limit_questions(
        &self,
        limits: &Bound<'_, PyAny>,
        used: Option<&Bound<'_, PyAny>>,
        requested: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Vec<(LimitId, entitle::Usage)>> {
        let limits = self.limit_ids(limits)?;
        let counts = |given: Option<&Bound<'_, PyAny>>, name: &'static str| -> PyResult<Vec<u64>> {
            let Some(given) = given else { return Ok(vec![0; limits.len()]) };
            let takes = format!("a sequence of {name} counts (int), one for each limit, or None");
            let mut counts = Vec::with_capacity(limits.len());
            for_each(given, name, &takes, false, |n| {
                counts.push(count(Some(n), name)?);
                Ok(())
            })?;
            if counts.len() != limits.len() {
                return Err(PyValueError::new_err(format!(
                    "entitle: `{name}` has {} items but `limits` has {}; give one count for each limit",
                    counts.len(),
                    limits.len()
                )));
            }
            Ok(counts)
        };
        let (used, requested) = (counts(used, "used")?, counts(requested, "requested")?);
        Ok(limits
            .iter()
            .zip(used.iter().zip(&requested))
            .map(|(id, (used, requested))| (*id, entitle::Usage::used(*used).requesting(*requested)))
            .collect())
    }

    /// Each answer as a Python `Quota`, in order.
    fn py_quotas<'py>(&self, py: Python<'py>, answers: &[entitle::Quota]) -> PyResult<Vec<Bound<'py, PyAny>>> {
        let types = types(py)?;
        answers.iter().map(|answer| types.quota(py, answer)).collect()
    }

    /// The used count of each limit in an `entitlements` call's `usage`: a mapping from limit
    /// names or ids to counts. A key that names no limit of this policy is a `QueryError`, as
    /// the JSON protocol's `unknown_usage` error is; a later key for the same limit wins.
    fn usage(&self, py: Python<'_>, usage: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<u64>> {
        let mut used = vec![0; self.engine.limits().len()];
        let mut given = vec![false; used.len()];
        let Some(usage) = usage else { return Ok(used) };
        let takes = "a mapping of used counts (int) by limit name (str) or id (int)";
        let items = if let Ok(dict) = usage.cast::<PyDict>() {
            dict.items()
        } else if let Ok(mapping) = usage.cast::<PyMapping>() {
            mapping.items()?
        } else {
            return Err(wrong_type("usage", takes, usage));
        };
        for pair in items.iter() {
            let (key, value): (Bound<'_, PyAny>, Bound<'_, PyAny>) = pair.extract()?;
            let limit = match item(&key, "usage", "limit") {
                Ok(Item::Name(name)) => self.engine.limit(&name),
                Ok(Item::Id(id)) => self.engine.limit_name(LimitId::from_u32(id)).map(|_| LimitId::from_u32(id)),
                Ok(Item::NoId) => None,
                Err(_) => {
                    return Err(wrong_type("usage", "a mapping whose keys are limit names (str) or ids (int)", &key))
                }
            };
            let parameter = format!("usage[{}]", key.repr()?);
            let amount = count(Some(&value), &parameter)?;
            let slot = limit.and_then(|id| self.engine.limits().position(|(each, _)| each == id));
            if let Some(seen) = slot.and_then(|index| given.get_mut(index)) {
                *seen = true;
            }
            match slot.and_then(|index| used.get_mut(index)) {
                Some(slot) => *slot = amount,
                None => {
                    let types = types(py)?;
                    let message = format!("entitle: `usage` names `{key}`, which is not a limit of this policy");
                    let error = types.query_error.bind(py).call1((message, types.reason(py, Reason::UnknownLimit)?))?;
                    return Err(PyErr::from_value(error));
                }
            }
        }
        // What the engine counts as used of each limit given these (a pool's, for a limit that
        // draws on one and is not given).
        let limits: Vec<LimitId> = self.engine.limits().map(|(id, _)| id).collect();
        let position = |id: LimitId| limits.iter().position(|each| *each == id);
        let given_of =
            |id: LimitId| position(id).filter(|at| given.get(*at) == Some(&true)).and_then(|at| used.get(at).copied());
        Ok(limits.iter().map(|id| self.engine.used_for(*id, given_of)).collect())
    }
}

/// The ids of a list of names or ids for a batch call's `parameter`: an exact int is read as
/// an id directly, anything else goes through `resolve`, and an item of the wrong type is a
/// `TypeError` saying what the list (`takes[0]`) and its items (`takes[1]`) take.
fn each_id<Id>(
    items: &Bound<'_, PyAny>,
    parameter: &str,
    takes: [&str; 2],
    from_u32: fn(u32) -> Id,
    resolve: impl Fn(&Bound<'_, PyAny>) -> PyResult<Id>,
) -> PyResult<Vec<Id>> {
    let mut ids = Vec::with_capacity(size_hint(items));
    for_each(items, parameter, takes[0], true, |item| {
        let id = match exact_id(item) {
            Some(id) => from_u32(id),
            None => resolve(item).map_err(|_| wrong_type(parameter, takes[1], item))?,
        };
        ids.push(id);
        Ok(())
    })?;
    Ok(ids)
}

/// The engine's request for a Python request.
fn ids(request: &PyRequest) -> entitle::Request<'_> {
    let rust = entitle::Request::new(request.tier, request.now)
        .with_key(&request.key)
        .with_held(&request.addons)
        .with_billing_anchor(request.billing_anchor);
    // After the key: `with_key` drops the overrides taken for the key before it.
    let rust = match &request.overrides {
        Some(overrides) => rust.with_overrides(overrides),
        None => rust,
    };
    match request.seats {
        Some(seats) => rust.with_seats(seats),
        None => rust,
    }
}

/// The instant `Held` reads as "not given".
const NOT_ACQUIRED: i64 = i64::MIN;

/// The quantity and acquisition of an `entitle.Held` at `addons[index]`, checked, with its
/// add-on: each wrong field is named as `addons[index].field`.
fn held_fields<'py>(
    py: Python<'py>,
    held: &Bound<'py, PyAny>,
    index: usize,
) -> PyResult<(Bound<'py, PyAny>, u64, i64)> {
    let addon = held.getattr(intern!(py, "addon"))?;
    let quantity = count(Some(&held.getattr(intern!(py, "quantity"))?), &format!("addons[{index}].quantity"))?;
    let acquired = held.getattr(intern!(py, "acquired"))?;
    let parameter = format!("addons[{index}].acquired");
    let acquired = if acquired.is_none() {
        NOT_ACQUIRED
    } else {
        match instant(py, &acquired, &parameter)? {
            // The engine reads this one instant as "not given"; no real acquisition is it.
            NOT_ACQUIRED => {
                return Err(PyValueError::new_err(format!(
                    "entitle: `{parameter}` is {NOT_ACQUIRED}, past the range of 64-bit Unix seconds"
                )))
            }
            instant => instant,
        }
    };
    Ok((addon, quantity, acquired))
}

/// The `PolicyError` or `EntitleError` for a failed load.
fn load_error(py: Python<'_>, error: &LoadError, source: Option<&Source>) -> PyErr {
    let types = match types(py) {
        Ok(types) => types,
        Err(error) => return error,
    };
    let status = match error {
        LoadError::Policy(diagnostics) | LoadError::Overrides(diagnostics) => {
            let listed = source.map_or_else(|| "[]".to_string(), |s| entitle::wire::diagnostics(s, diagnostics.iter()));
            return match types.policy_error.bind(py).call1((error.to_string(), listed)) {
                Ok(exception) => PyErr::from_value(exception),
                Err(failed) => failed,
            };
        }
        LoadError::NotUtf8 { .. } => "invalid_utf8",
        LoadError::Bundle { .. } | LoadError::BundleTooLarge { .. } => "bundle_error",
        // `Read`, `TooLarge`, and any kind a later release adds: the file could not be used.
        _ => "io_error",
    };
    types.error(py, error.to_string(), status)
}

fn compile(py: Python<'_>, source: &Source) -> PyResult<PyEngine> {
    match entitle::check_with(source, &Limits::default()) {
        Ok(checked) => Ok(PyEngine::new(entitle::compile(&checked))),
        Err(diagnostics) => Err(load_error(py, &LoadError::Policy(diagnostics), Some(source))),
    }
}

/// A path argument as a `str`: a `str` or an `os.PathLike[str]`.
fn fspath(py: Python<'_>, path: &Bound<'_, PyAny>) -> PyResult<String> {
    let os = py.import("os")?;
    match os.call_method1("fspath", (path,)).and_then(|p| p.extract::<String>()) {
        Ok(path) => Ok(path),
        Err(_) => Err(wrong_type("path", "a path (str or os.PathLike[str])", path)),
    }
}

fn text(value: &Bound<'_, PyAny>, parameter: &str, takes: &str) -> PyResult<String> {
    match value.cast::<PyString>() {
        Ok(text) => Ok(text.to_cow()?.into_owned()),
        Err(_) => Err(wrong_type(parameter, takes, value)),
    }
}

#[pymethods]
impl PyEngine {
    /// Parses, checks and compiles policy text; raises `PolicyError` with every diagnostic.
    #[staticmethod]
    #[pyo3(signature = (text, name = None))]
    fn from_source(py: Python<'_>, text: &Bound<'_, PyAny>, name: Option<&Bound<'_, PyAny>>) -> PyResult<PyEngine> {
        let policy = self::text(text, "text", "policy text (str)")?;
        let name = match name {
            Some(name) => self::text(name, "name", "a str")?,
            None => "<string>".to_string(),
        };
        compile(py, &Source::new(&name, &policy))
    }

    /// Reads, checks and compiles a policy file, or loads a compiled bundle; raises
    /// `PolicyError` or `EntitleError`.
    #[staticmethod]
    fn from_path(py: Python<'_>, path: &Bound<'_, PyAny>) -> PyResult<PyEngine> {
        let path = fspath(py, path)?;
        match entitle::read_policy_file(std::path::Path::new(&path), &Limits::default()) {
            Ok((_, Some(engine))) => Ok(PyEngine::new(engine)),
            Ok((source, None)) => compile(py, &source),
            Err(error) => Err(load_error(py, &error, None)),
        }
    }

    /// Loads a compiled bundle (`entitle build`) without parsing; raises `EntitleError` with
    /// status `bundle_error` for a corrupt, truncated or newer-format bundle.
    #[staticmethod]
    fn from_bundle(py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<PyEngine> {
        let bytes: Vec<u8> = if let Ok(bytes) = data.cast::<PyBytes>() {
            bytes.as_bytes().to_vec()
        } else if let Ok(array) = data.cast::<PyByteArray>() {
            array.to_vec()
        } else {
            return Err(wrong_type("data", "a bundle's bytes (bytes or bytearray)", data));
        };
        Engine::from_bundle(&bytes)
            .map(PyEngine::new)
            .map_err(|error| types(py).map_or_else(|e| e, |t| t.error(py, error.to_string(), "bundle_error")))
    }

    /// The SHA-256 of the policy's source, as 64 hex digits.
    #[getter]
    fn policy_hash(&self) -> String {
        self.engine.policy_hash().to_string()
    }

    /// The id of a tier, or None if the policy declares none of that name.
    fn tier(&self, name: &Bound<'_, PyAny>) -> PyResult<Option<u32>> {
        Ok(self.engine.tier(&text(name, "name", "a tier name (str)")?).map(TierId::as_u32))
    }

    /// The id of a feature, or None.
    fn feature(&self, name: &Bound<'_, PyAny>) -> PyResult<Option<u32>> {
        Ok(self.engine.feature(&text(name, "name", "a feature name (str)")?).map(FeatureId::as_u32))
    }

    /// The id of a limit, or None.
    fn limit(&self, name: &Bound<'_, PyAny>) -> PyResult<Option<u32>> {
        Ok(self.engine.limit(&text(name, "name", "a limit name (str)")?).map(LimitId::as_u32))
    }

    /// The id of an add-on, or None.
    fn addon(&self, name: &Bound<'_, PyAny>) -> PyResult<Option<u32>> {
        Ok(self.engine.addon(&text(name, "name", "an add-on name (str)")?).map(AddonId::as_u32))
    }

    /// The id of a setting, or None.
    fn setting(&self, name: &Bound<'_, PyAny>) -> PyResult<Option<u32>> {
        Ok(self.engine.setting(&text(name, "name", "a setting name (str)")?).map(SettingId::as_u32))
    }

    /// Who is asking and when: a tier (name or id), the subject key rollouts hash, the
    /// add-ons held (names, ids, or `Held` with a quantity and an acquisition instant), the
    /// seat count (None when not given), the billing anchor day (1–31), `now` as Unix
    /// seconds (int) or an aware datetime (the current time when left out), and `overrides`,
    /// an `Overrides` set whose records for `key` every question applies last (None: none).
    #[pyo3(signature = (tier, *, key = Given::Missing, addons = Given::Missing, seats = None, billing_anchor = Given::Missing, now = None, overrides = None))]
    #[expect(clippy::too_many_arguments, reason = "Python's keyword arguments, each a field of the request")]
    fn request(
        &self,
        py: Python<'_>,
        tier: &Bound<'_, PyAny>,
        key: Given<'_>,
        addons: Given<'_>,
        seats: Option<&Bound<'_, PyAny>>,
        billing_anchor: Given<'_>,
        now: Option<&Bound<'_, PyAny>>,
        overrides: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyRequest> {
        let resolved_tier = match item(tier, "tier", "tier")? {
            Item::Name(name) => self.engine.tier(&name),
            Item::Id(id) => self.engine.tier_name(TierId::from_u32(id)).map(|_| TierId::from_u32(id)),
            Item::NoId => None,
        };
        let key = match key.get() {
            Some(key) => text(key, "key", "a subject key (str)")?,
            None => String::new(),
        };
        let billing_anchor = match billing_anchor.get() {
            None => 1,
            Some(day) => {
                let Some(int) = plain_int(day) else {
                    return Err(wrong_type("billing_anchor", "a day of the month (int, 1 to 31)", day));
                };
                match int.extract::<u8>() {
                    Ok(day @ 1..=31) => day,
                    _ => {
                        return Err(PyValueError::new_err(format!(
                            "entitle: billing_anchor is {int}, not a day from 1 to 31"
                        )))
                    }
                }
            }
        };
        let now = seconds(py, now)?;
        let set = override_set(overrides)?;
        let seats = match seats {
            Some(seats) if !seats.is_none() => Some(count(Some(seats), "seats")?),
            _ => None,
        };
        let given: Bound<'_, PyTuple> = match addons.get() {
            None => PyTuple::empty(py),
            Some(addons) if addons.is_instance_of::<PyString>() || addons.is_instance_of::<PyBytes>() => {
                return Err(wrong_type(
                    "addons",
                    "a sequence of add-on names (str) or ids (int); a str is one name, so give [name]",
                    addons,
                ));
            }
            Some(addons) => match addons.try_iter() {
                Ok(iter) => PyTuple::new(py, iter.collect::<PyResult<Vec<_>>>()?)?,
                Err(_) => return Err(wrong_type("addons", "a sequence of add-on names (str) or ids (int)", addons)),
            },
        };
        let mut held = Vec::with_capacity(given.len().min(self.held_addons));
        let mut unknown_addon = false;
        let held_class = types(py)?.held.bind(py);
        for (index, given_item) in given.iter().enumerate() {
            let (addon, quantity, acquired, parameter) = if given_item.is_instance(held_class)? {
                let (addon, quantity, acquired) = held_fields(py, &given_item, index)?;
                (addon, quantity, acquired, Some(format!("addons[{index}].addon")))
            } else {
                (given_item, 1, NOT_ACQUIRED, None)
            };
            let id = match item(&addon, "addons", "items that are add-on names (str) or ids (int)") {
                Ok(Item::Name(name)) => self.engine.addon(&name),
                Ok(Item::Id(id)) => self.engine.addon_name(AddonId::from_u32(id)).map(|_| AddonId::from_u32(id)),
                Ok(Item::NoId) => None,
                Err(_) => {
                    return Err(match parameter {
                        Some(parameter) => wrong_type(&parameter, "an add-on name (str) or id (int)", &addon),
                        None => wrong_type(
                            "addons",
                            "a sequence whose items are add-on names (str), ids (int) or entitle.Held",
                            &addon,
                        ),
                    });
                }
            };
            match id {
                Some(id) if held.len() < self.held_addons => {
                    held.push(Held::new(id).with_quantity(quantity).acquired_at(acquired));
                }
                Some(_) => {}
                None => unknown_addon = true,
            }
        }
        let refusal = if resolved_tier.is_none() {
            Some(Reason::UnknownTier)
        } else if given.len() > self.held_addons {
            Some(Reason::TooManyAddons)
        } else if unknown_addon {
            Some(Reason::UnknownAddon)
        } else {
            None
        };
        Ok(PyRequest {
            serial: self.serial,
            tier_given: tier.clone().unbind(),
            addons_given: given.unbind(),
            billing_anchor,
            now,
            tier: resolved_tier.unwrap_or(TierId::from_u32(NO_ID)),
            addons: held,
            seats,
            refusal,
            overrides_given: set.map_or_else(|| py.None(), |set| set.clone().into_any().unbind()),
            overrides: set.map(|set| &set.get().overrides).filter(|set| set.subject(&key).is_some()).cloned(),
            key,
        })
    }

    /// Whether the subject may use `feature` (a name or id); `decide` says why.
    fn is_allowed(&self, request: &Bound<'_, PyRequest>, feature: &Bound<'_, PyAny>) -> PyResult<bool> {
        let request = self.own(request.get())?;
        let id = self.feature_id(feature)?;
        Ok(request.refusal.is_none() && self.engine.is_allowed(&ids(request), id))
    }

    /// `is_allowed` for each of `features` (a sequence of names or ids), in one call; the
    /// answers in the same order.
    fn is_allowed_many<'py>(
        &self,
        py: Python<'py>,
        request: &Bound<'_, PyRequest>,
        features: &Bound<'_, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        let request = self.own(request.get())?;
        let features = self.feature_ids(features)?;
        let mut answers = vec![false; features.len()];
        if request.refusal.is_none() {
            self.engine.is_allowed_many(&ids(request), &features, &mut answers).map_err(batch_error)?;
        }
        PyList::new(py, answers.iter().map(|allowed| PyBool::new(py, *allowed)))
    }

    /// The features of a page resolved once (a sequence of names or ids), for the batch calls
    /// of this engine: `is_allowed_many` and `decide_many` then read their ids as they are.
    fn feature_list(&self, py: Python<'_>, features: &Bound<'_, PyAny>) -> PyResult<PyFeatureList> {
        // The items are kept first, so that an iterator is read once.
        let given = match features.cast::<PyTuple>() {
            Ok(tuple) => tuple.clone(),
            Err(_) => {
                let mut items = Vec::with_capacity(size_hint(features));
                for_each(features, "features", "a sequence of feature names (str) or ids (int)", true, |item| {
                    items.push(item.clone());
                    Ok(())
                })?;
                PyTuple::new(py, items)?
            }
        };
        let ids = self.each_feature_id(&given)?;
        Ok(PyFeatureList { serial: self.serial, given: given.unbind(), ids })
    }

    /// Whether the subject may use `feature` (a name or id), and why. Unknown names and ids
    /// are denials with an `unknown_*` reason.
    fn decide<'py>(
        &self,
        py: Python<'py>,
        request: &Bound<'_, PyRequest>,
        feature: &Bound<'_, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let request = self.own(request.get())?;
        let id = self.feature_id(feature)?;
        let types = types(py)?;
        let decision = match request.refusal {
            Some(reason) => types.decision(py, false, reason)?,
            None => {
                let decision = self.engine.decide(&ids(request), id);
                types.decision(py, decision.allowed, decision.reason)?
            }
        };
        Ok(decision.clone())
    }

    /// `decide` for each of `features` (a sequence of names or ids), in one call; the answers
    /// in the same order.
    fn decide_many<'py>(
        &self,
        py: Python<'py>,
        request: &Bound<'_, PyRequest>,
        features: &Bound<'_, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        let request = self.own(request.get())?;
        let features = self.feature_ids(features)?;
        let types = types(py)?;
        let answers = self.decisions(request, &features)?;
        let mut decisions = Vec::with_capacity(answers.len());
        for answer in &answers {
            decisions.push(types.decision(py, answer.allowed, answer.reason)?);
        }
        PyList::new(py, decisions)
    }

    /// How much of `limit` (a name or id) is left given `used`, and whether `requested` more
    /// may be used.
    #[pyo3(signature = (request, limit, used = Given::Missing, requested = Given::Missing))]
    fn check_limit<'py>(
        &self,
        py: Python<'py>,
        request: &Bound<'_, PyRequest>,
        limit: &Bound<'_, PyAny>,
        used: Given<'_>,
        requested: Given<'_>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (request, id, usage) = self.limit_question(request.get(), limit, &used, &requested)?;
        let quota = match request.refusal {
            Some(reason) => refused_quota(reason),
            None => self.engine.check_limit(&ids(request), id, usage),
        };
        types(py)?.quota(py, &quota)
    }

    /// `check_limit` for a limit that may draw on a pool, as a `Draw`: the pool's answer, the
    /// pool's name, what `requested` (in the limit's own units) costs it, and how many of the
    /// limit's units what is left pays for. `used` is the pool's use. For a limit that draws
    /// on nothing, the pool is the limit itself at 1 per 1.
    #[pyo3(signature = (request, limit, used = Given::Missing, requested = Given::Missing))]
    fn check_draw<'py>(
        &self,
        py: Python<'py>,
        request: &Bound<'_, PyRequest>,
        limit: &Bound<'_, PyAny>,
        used: Given<'_>,
        requested: Given<'_>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (request, id, usage) = self.limit_question(request.get(), limit, &used, &requested)?;
        let draw = match request.refusal {
            Some(reason) => self.engine.draw_of(id, usage, refused_quota(reason)),
            None => self.engine.check_draw(&ids(request), id, usage),
        };
        let types = types(py)?;
        let pool = self.engine.limit_name(draw.pool).into_pyobject(py)?.into_any();
        let cost = draw.cost.into_pyobject(py)?.into_any();
        let args = (types.quota(py, &draw.quota)?, pool, cost, types.amount(py, draw.remaining_units)?);
        types.draw.bind(py).call1(args)
    }

    /// The name of the pool `limit` draws on, or None for a limit that draws on nothing (or
    /// an unknown one).
    fn pool(&self, limit: &Bound<'_, PyAny>) -> PyResult<Option<String>> {
        let id = self.limit_id(limit)?;
        Ok(self.engine.pool(id).and_then(|pool| self.engine.limit_name(pool)).map(str::to_string))
    }

    /// `check_limit` for each of `limits` (a sequence of names or ids), in one call: `used`
    /// gives the used count of each (a sequence of the same length; None for 0s), and nothing
    /// more is requested. The answers in the same order.
    #[pyo3(signature = (request, limits, used = None))]
    fn check_limit_many<'py>(
        &self,
        py: Python<'py>,
        request: &Bound<'_, PyRequest>,
        limits: &Bound<'_, PyAny>,
        used: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let request = self.own(request.get())?;
        let questions = self.limit_questions(limits, used, None)?;
        let answers = self.quotas(request, &questions)?;
        PyList::new(py, self.py_quotas(py, &answers)?)
    }

    /// One request against several limits: `check_limit` for each of `limits` with `used[i]`
    /// and `requested[i]` (sequences of the same length; None for 0s), and the index of the
    /// answer that binds (`entitle::binding`), as a `LimitBatch`.
    #[pyo3(signature = (request, limits, used = None, requested = None))]
    fn check_limits<'py>(
        &self,
        py: Python<'py>,
        request: &Bound<'_, PyRequest>,
        limits: &Bound<'_, PyAny>,
        used: Option<&Bound<'_, PyAny>>,
        requested: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let request = self.own(request.get())?;
        let questions = self.limit_questions(limits, used, requested)?;
        let answers = self.quotas(request, &questions)?;
        let binding = entitle::binding(&answers);
        let answers = PyTuple::new(py, self.py_quotas(py, &answers)?)?;
        types(py)?.limit_batch.bind(py).call1((answers, binding))
    }

    /// A setting's value as a `Setting` (its kind, value in base units and display text), or
    /// None when nothing sets it. An unknown setting, tier or add-on, or too many add-ons,
    /// raises `QueryError` (a `KeyError`) whose `reason` says which.
    fn setting_value<'py>(
        &self,
        py: Python<'py>,
        request: &Bound<'_, PyRequest>,
        setting: &Bound<'_, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let request = self.own(request.get())?;
        let id = self.setting_id(setting)?;
        let types = types(py)?;
        let answer = match request.refusal {
            Some(reason) => Err(reason),
            None => self.engine.setting_value(&ids(request), id),
        };
        match answer {
            Ok(None) => Ok(py.None().into_bound(py)),
            Ok(Some(value)) => types.setting(py, value),
            Err(reason) => {
                let message = format!("entitle: setting `{setting}`: {reason}");
                let error = types.query_error.bind(py).call1((message, types.reason(py, reason)?))?;
                Err(PyErr::from_value(error))
            }
        }
    }

    /// Everything the subject is entitled to, as an account page shows it: the `decide` of
    /// every feature, the `check_limit` of every limit given `usage` (used counts by limit
    /// name or id, 0 where absent) and the `setting_value` of every setting, each keyed by
    /// name in declaration order. When the request's tier or an add-on is unknown, or it
    /// holds too many add-ons, every answer is a deny with that reason, every setting None,
    /// and `reason` says why. A `usage` key that names no limit raises `QueryError`.
    #[pyo3(signature = (request, usage = None))]
    fn entitlements<'py>(
        &self,
        py: Python<'py>,
        request: &Bound<'_, PyRequest>,
        usage: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let request = self.own(request.get())?;
        let used = self.usage(py, usage)?;
        let types = types(py)?;

        let (names, features): (Vec<_>, Vec<_>) = self.engine.features().map(|(id, name)| (name, id)).unzip();
        let features_out = PyDict::new(py);
        for (name, answer) in names.iter().zip(self.decisions(request, &features)?) {
            features_out.set_item(name, types.decision(py, answer.allowed, answer.reason)?)?;
        }

        let (names, limits): (Vec<_>, Vec<_>) =
            self.engine.limits().zip(&used).map(|((id, name), n)| (name, (id, entitle::Usage::used(*n)))).unzip();
        let limits_out = PyDict::new(py);
        for (name, answer) in names.iter().zip(self.quotas(request, &limits)?) {
            limits_out.set_item(name, types.quota(py, &answer)?)?;
        }

        let settings_out = PyDict::new(py);
        for (id, name) in self.engine.settings() {
            let value = match request.refusal {
                Some(_) => None,
                // The id is this engine's own, so the only error left, an unknown tier or
                // add-on, is the refusal handled above.
                None => self.engine.setting_value(&ids(request), id).ok().flatten(),
            };
            match value {
                Some(value) => settings_out.set_item(name, types.setting(py, value)?)?,
                None => settings_out.set_item(name, py.None())?,
            }
        }

        let reason = match request.refusal {
            Some(reason) => types.reason(py, reason)?.clone(),
            None => py.None().into_bound(py),
        };
        types.entitlements.bind(py).call1((features_out, limits_out, settings_out, reason))
    }

    /// The decision with the rules behind it and an upgrade hint, as the JSON of `wire`.
    fn explain_feature<'py>(
        &self,
        py: Python<'py>,
        request: &Bound<'_, PyRequest>,
        feature: &Bound<'_, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let request = self.own(request.get())?;
        let id = self.feature_id(feature)?;
        let json = match request.refusal {
            Some(reason) => refused(reason),
            None => {
                let why = self.engine.explain_feature(&ids(request), id);
                entitle::wire::explained(&entitle::wire::decision(&why.answer), &why)
            }
        };
        types(py)?.json(py, &json)
    }

    /// The quota with the rules behind it and an upgrade hint, as the JSON of `wire`.
    #[pyo3(signature = (request, limit, used = Given::Missing, requested = Given::Missing))]
    fn explain_limit<'py>(
        &self,
        py: Python<'py>,
        request: &Bound<'_, PyRequest>,
        limit: &Bound<'_, PyAny>,
        used: Given<'_>,
        requested: Given<'_>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (request, id, usage) = self.limit_question(request.get(), limit, &used, &requested)?;
        let json = match request.refusal {
            Some(reason) => refused_limit(reason),
            None => {
                let why = self.engine.explain_limit(&ids(request), id, usage);
                entitle::wire::explained(&entitle::wire::quota(&why.answer), &why)
            }
        };
        types(py)?.json(py, &json)
    }

    /// Answers one query of the JSON Lines protocol of `entitle eval` (a str or a dict), with
    /// the records of `overrides` (an `Overrides`, or None) for the query's `key` applied, as
    /// `entitle::wire::answer_line_with` answers it.
    #[pyo3(signature = (query, overrides = None))]
    fn query_json<'py>(
        &self,
        py: Python<'py>,
        query: &Bound<'_, PyAny>,
        overrides: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let set = override_set(overrides)?;
        let types = types(py)?;
        let line: String = if let Ok(text) = query.cast::<PyString>() {
            text.to_cow()?.into_owned()
        } else if query.is_instance_of::<PyDict>() {
            types.json_dumps.bind(py).call1((query,))?.extract()?
        } else {
            return Err(wrong_type("query", "a JSON query (str or dict)", query));
        };
        let set = set.map(|set| &set.get().overrides);
        types.json(py, &entitle::wire::answer_line_with(&self.engine, set, &line))
    }

    fn __repr__(&self) -> String {
        format!("Engine(policy={:?}, hash={})", self.engine.policy_name(), self.engine.policy_hash())
    }
}

/// The quota of a question whose request every question denies: a deny of 0 for `reason`.
fn refused_quota(reason: Reason) -> entitle::Quota {
    let mut quota = entitle::Quota::default();
    quota.reason = reason;
    quota
}

/// A batch call's buffer is always made as long as its questions, so this never happens; it
/// is an error rather than a panic all the same.
fn batch_error(error: entitle::BufferTooSmall) -> PyErr {
    PyValueError::new_err(format!("entitle: {error}"))
}

/// The explanation of a feature question whose request every question denies: the deny, no
/// rules.
fn refused(reason: Reason) -> String {
    format!(
        r#"{{"answer":{{"allowed":false,"reason":"{}"}},"explain":{{"steps":[],"upgrade":null}}}}"#,
        reason.as_str()
    )
}

/// The explanation of a limit question whose request every question denies: the deny of 0
/// in a quota's shape, as `check_limit` and the JSON protocol answer it, no rules.
fn refused_limit(reason: Reason) -> String {
    format!(
        r#"{{"answer":{{"allowed":false,"reason":"{}","status":"exceeded","limit":0,"soft_cap":null,"remaining":0}},"explain":{{"steps":[],"upgrade":null}}}}"#,
        reason.as_str()
    )
}

/// `now` as Unix seconds: an int that is not a bool, an aware datetime, or the current time.
fn seconds(py: Python<'_>, now: Option<&Bound<'_, PyAny>>) -> PyResult<i64> {
    let Some(now) = now else {
        let since = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        return Ok(i64::try_from(since.as_secs()).unwrap_or(i64::MAX));
    };
    instant(py, now, "now")
}

/// An instant given to `parameter`: Unix seconds (an int, not a bool) or an aware datetime.
fn instant(py: Python<'_>, value: &Bound<'_, PyAny>, parameter: &str) -> PyResult<i64> {
    if let Some(int) = plain_int(value) {
        return int.extract::<i64>().map_err(|_| {
            PyValueError::new_err(format!("entitle: `{parameter}` is {int}, past the range of 64-bit Unix seconds"))
        });
    }
    let types = types(py)?;
    // `_aware_seconds` answers None for anything that is not a datetime, and raises
    // ValueError for a naive one.
    let found = types.aware_seconds.bind(py).call1((value, parameter))?;
    if found.is_none() {
        return Err(wrong_type(parameter, "Unix seconds (int) or an aware datetime", value));
    }
    found.extract::<i64>()
}

#[pymethods]
impl PyRequest {
    /// The tier as given: a name or an id.
    #[getter]
    fn tier(&self, py: Python<'_>) -> Py<PyAny> {
        self.tier_given.clone_ref(py)
    }

    /// The stable subject key that rollouts hash.
    #[getter]
    fn key(&self) -> &str {
        &self.key
    }

    /// The add-ons held, as given.
    #[getter]
    fn addons(&self, py: Python<'_>) -> Py<PyTuple> {
        self.addons_given.clone_ref(py)
    }

    /// The seat count, or None when not given.
    #[getter]
    fn seats(&self) -> Option<u64> {
        self.seats
    }

    /// The billing anchor day, 1–31.
    #[getter]
    fn billing_anchor(&self) -> u8 {
        self.billing_anchor
    }

    /// The instant of the questions, in Unix seconds.
    #[getter]
    fn now(&self) -> i64 {
        self.now
    }

    /// The `Overrides` the questions apply, or None.
    #[getter]
    fn overrides(&self, py: Python<'_>) -> Py<PyAny> {
        self.overrides_given.clone_ref(py)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        // The set is shown only when given, so that a request without one reads as before.
        let overrides = self.overrides_given.bind(py);
        let overrides = if overrides.is_none() { String::new() } else { format!(", overrides={}", overrides.repr()?) };
        Ok(format!(
            "Request(tier={}, key={}, addons={}, seats={}, billing_anchor={}, now={}{overrides})",
            self.tier_given.bind(py).repr()?,
            PyString::new(py, &self.key).repr()?,
            self.addons_given.bind(py).repr()?,
            self.seats.map_or_else(|| "None".to_string(), |seats| seats.to_string()),
            self.billing_anchor,
            self.now
        ))
    }
}

/// An `overrides` argument: an `entitle.Overrides`, or None (left out) for none.
fn override_set<'a, 'py>(overrides: Option<&'a Bound<'py, PyAny>>) -> PyResult<Option<&'a Bound<'py, PyOverrides>>> {
    match overrides {
        None => Ok(None),
        Some(value) if value.is_none() => Ok(None),
        Some(value) => match value.cast::<PyOverrides>() {
            Ok(set) => Ok(Some(set)),
            Err(_) => Err(wrong_type("overrides", "an entitle.Overrides (or None)", value)),
        },
    }
}

/// An `engine` argument: an `entitle.Engine`.
fn engine_arg<'a, 'py>(engine: &'a Bound<'py, PyAny>) -> PyResult<&'a Bound<'py, PyEngine>> {
    engine.cast::<PyEngine>().map_err(|_| wrong_type("engine", "an entitle.Engine", engine))
}

impl PyOverrides {
    /// Checks `source` against `engine` under the engine's limits, as
    /// `entitle::Overrides::from_jsonl` does; a set with errors raises `PolicyError` with
    /// every diagnostic, each at its record's line.
    fn check(py: Python<'_>, engine: &PyEngine, source: &Source) -> PyResult<PyOverrides> {
        let engine = &engine.engine;
        match Overrides::from_jsonl_with(engine, source.name(), source.text(), engine.input_limits()) {
            Ok(overrides) => Ok(PyOverrides { overrides, engine: engine.clone() }),
            Err(diagnostics) => Err(load_error(py, &LoadError::Overrides(diagnostics), Some(source))),
        }
    }

    /// A record as an `OverrideRecord`, its names the engine's.
    fn record<'py>(&self, py: Python<'py>, info: &entitle::OverrideInfo<'_>) -> PyResult<Bound<'py, PyAny>> {
        let types = types(py)?;
        let engine = &self.engine;
        let none = || py.None().into_bound(py);
        let (target, name, op, value, per_seat) = match &info.change {
            OverrideChange::Grant(f) => ("feature", engine.feature_name(*f), "grant", none(), false),
            OverrideChange::Revoke(f) => ("feature", engine.feature_name(*f), "revoke", none(), false),
            OverrideChange::Limit { limit, op, value, per_seat } => {
                ("limit", engine.limit_name(*limit), op.as_str(), types.amount(py, *value)?, *per_seat)
            }
            OverrideChange::Setting { setting, value } => {
                ("setting", engine.setting_name(*setting), "=", types.setting(py, value)?, false)
            }
            // A kind of record a later release adds: said, rather than shown as another.
            _ => return Err(PyValueError::new_err("entitle: an override record of a kind this package does not know")),
        };
        let fields = PyDict::new(py);
        fields.set_item(intern!(py, "subject"), info.subject)?;
        fields.set_item(intern!(py, "op"), op)?;
        fields.set_item(target, name.unwrap_or(""))?;
        fields.set_item(intern!(py, "value"), value)?;
        fields.set_item(intern!(py, "per_seat"), per_seat)?;
        fields.set_item(intern!(py, "from_"), info.from)?;
        fields.set_item(intern!(py, "until"), info.until)?;
        fields.set_item(intern!(py, "reason"), info.reason)?;
        fields.set_item(intern!(py, "author"), info.author)?;
        fields.set_item(intern!(py, "line"), info.line)?;
        types.override_record.bind(py).call((), Some(&fields))
    }
}

#[pymethods]
impl PyOverrides {
    /// Reads and checks override records from JSON Lines `text` against `engine`; `name` is
    /// how diagnostics cite the text (its path, usually). Raises `PolicyError` with every
    /// diagnostic, each at its record's line.
    #[staticmethod]
    #[pyo3(signature = (engine, text, name = None))]
    fn from_jsonl(
        py: Python<'_>,
        engine: &Bound<'_, PyAny>,
        text: &Bound<'_, PyAny>,
        name: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyOverrides> {
        let engine = engine_arg(engine)?;
        let records = self::text(text, "text", "JSON Lines override records (str)")?;
        let name = match name {
            Some(name) => self::text(name, "name", "a str")?,
            None => "<overrides>".to_string(),
        };
        PyOverrides::check(py, engine.get(), &Source::new(&name, &records))
    }

    /// Reads the JSON Lines override set at `path` and checks it against `engine`, as
    /// `entitle::Overrides::from_path` does (a file past the engine's `override_bytes` is
    /// refused unread). Raises `PolicyError` for records with errors, `EntitleError` for a
    /// file that cannot be read.
    #[staticmethod]
    fn from_path(py: Python<'_>, engine: &Bound<'_, PyAny>, path: &Bound<'_, PyAny>) -> PyResult<PyOverrides> {
        let engine = engine_arg(engine)?;
        let path = fspath(py, path)?;
        // Read here, as `Overrides::from_path` reads it, rather than through it: its error
        // holds the diagnostics' lines but not the text, and `PolicyError`'s diagnostics carry
        // where each one ends too, which only the text can say.
        let limit = engine.get().engine.input_limits().override_bytes;
        let source =
            entitle::read_text_file(std::path::Path::new(&path), limit).map_err(|e| load_error(py, &e, None))?;
        PyOverrides::check(py, engine.get(), &source)
    }

    /// How many records the set holds.
    fn __len__(&self) -> usize {
        self.overrides.len()
    }

    /// How many subjects have records.
    #[getter]
    fn subject_count(&self) -> usize {
        self.overrides.subject_count()
    }

    /// The SHA-256 of the policy the set was checked against, as 64 hex digits: it answers
    /// only for an engine with this `policy_hash`.
    #[getter]
    fn policy_hash(&self) -> String {
        self.overrides.policy_hash().to_string()
    }

    /// The name the set was read under, as its diagnostics cite it.
    #[getter]
    fn name(&self) -> &str {
        self.overrides.name()
    }

    /// The subject keys that have records, sorted.
    fn subjects(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = self.overrides.subjects().collect();
        keys.sort_unstable();
        keys
    }

    /// Every record of subject `key` as an `OverrideRecord`, in the order the set keeps them
    /// (by what they change, then by start); an empty list when the subject has none.
    fn records<'py>(&self, py: Python<'py>, key: &Bound<'_, PyAny>) -> PyResult<Bound<'py, PyList>> {
        let key = text(key, "key", "a subject key (str)")?;
        let mut records = Vec::new();
        for info in self.overrides.records(&key) {
            records.push(self.record(py, &info)?);
        }
        PyList::new(py, records)
    }

    fn __repr__(&self) -> String {
        format!(
            "Overrides(name={:?}, records={}, subjects={}, policy_hash={})",
            self.overrides.name(),
            self.overrides.len(),
            self.overrides.subject_count(),
            self.overrides.policy_hash()
        )
    }
}

/// The version of the engine, such as `"0.1.0"`.
#[pyfunction]
fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// The extension module.
#[pymodule]
fn _entitle(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<PyEngine>()?;
    module.add_class::<PyRequest>()?;
    module.add_class::<PyFeatureList>()?;
    module.add_class::<PyOverrides>()?;
    module.add_function(wrap_pyfunction!(version, module)?)?;
    Ok(())
}
