//! A simulator of the Lifelong Learning Portal's record API
//! (`docs/portal-api.yaml`) on 127.0.0.1: deterministic synthetic data for
//! any day, and switches that inject the faults a real portal has.
//!
//! Tests start it in-process with [`serve`] and change [`Portal::set_faults`]
//! or [`Portal::set_as_of`] directly; the binary serves the same router and
//! takes the same switches over `POST /_sim/faults` and `POST /_sim/as-of`.

pub mod csv_file;
pub mod data;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::json;

pub use data::{DataConfig, Defect, Generator, WireRecord};

/// Faults to inject. Rates are probabilities per request, drawn from a
/// seeded generator so a run can be repeated.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Added to every answer.
    pub latency_ms: u64,
    /// Every request answers 503 while set.
    pub outage: bool,
    /// The next N requests answer 500.
    pub fail_next: u32,
    pub server_error_rate: f64,
    pub rate_limit_rate: f64,
    /// Seconds sent in `Retry-After` with a 429.
    pub retry_after_secs: u64,
    /// A page with a field of the wrong type.
    pub malformed_rate: f64,
    /// A page cut off halfway through its JSON.
    pub truncated_rate: f64,
    /// No answer for a long time (until the client gives up).
    pub hang_rate: f64,
    /// The connection dropped halfway through the answer.
    pub reset_rate: f64,
}

/// Counters for tests and the local stack's summary.
#[derive(Debug, Default, Serialize)]
pub struct Stats {
    pub requests: AtomicU64,
    pub faults: AtomicU64,
    /// Faults injected so far, by kind (`Fault::kind`).
    pub by_kind: Mutex<std::collections::BTreeMap<&'static str, u64>>,
}

impl Stats {
    /// Faults injected so far, by kind.
    pub fn faults_by_kind(&self) -> std::collections::BTreeMap<&'static str, u64> {
        lock(&self.by_kind).clone()
    }
}

/// A day's changes as known on a given day.
type DayAsOf = (NaiveDate, NaiveDate);

pub struct Portal {
    generator: Generator,
    token: String,
    as_of: Mutex<NaiveDate>,
    faults: Mutex<Faults>,
    rng: Mutex<u64>,
    cache: Mutex<Vec<(DayAsOf, Arc<Vec<WireRecord>>)>>,
    /// Back-dated changes: each listed under its change date once the
    /// portal's "today" reaches the day it was recorded.
    late: Mutex<Vec<(NaiveDate, WireRecord)>>,
    /// Records the portal lost track of (by `record_id`), from the day
    /// given: no longer listed on any day, not even as withdrawn.
    erased: Mutex<Vec<(NaiveDate, String)>>,
    pub stats: Stats,
}

const CACHED_DAYS: usize = 8;
const DEFAULT_LIMIT: usize = 1000;
const MAX_LIMIT: usize = 5000;
const MAX_RANGE_DAYS: i64 = 31;

impl Portal {
    /// `as_of` is the portal's "today": changes after it are not yet known.
    pub fn new(data: DataConfig, token: impl Into<String>, as_of: NaiveDate) -> Self {
        Portal {
            rng: Mutex::new(data.seed ^ 0xFA17),
            generator: Generator::new(data),
            token: token.into(),
            as_of: Mutex::new(as_of),
            faults: Mutex::new(Faults::default()),
            cache: Mutex::new(Vec::new()),
            late: Mutex::new(Vec::new()),
            erased: Mutex::new(Vec::new()),
            stats: Stats::default(),
        }
    }

    pub fn generator(&self) -> &Generator {
        &self.generator
    }

    pub fn as_of(&self) -> NaiveDate {
        *lock(&self.as_of)
    }

    pub fn set_as_of(&self, as_of: NaiveDate) {
        *lock(&self.as_of) = as_of;
    }

    pub fn set_faults(&self, faults: Faults) {
        *lock(&self.faults) = faults;
    }

    /// The faults drawn from now on follow `seed` (a replayable run).
    pub fn reseed(&self, seed: u64) {
        *lock(&self.rng) = seed;
    }

    /// Records a change under its own `changed_date`, recorded on
    /// `recorded_on` (later): a back-dated correction or a late batch, which
    /// a sync whose watermark passed that day can only find by looking back.
    pub fn backdate(&self, record: WireRecord, recorded_on: NaiveDate) {
        lock(&self.late).push((recorded_on, record));
        lock(&self.cache).clear();
    }

    /// Forgets a record from `on`: the portal no longer reports it on any
    /// day, as when its data was lost or deleted at the source.
    pub fn erase(&self, record_id: &str, on: NaiveDate) {
        lock(&self.erased).push((on, record_id.to_string()));
        lock(&self.cache).clear();
    }

    /// The changes on `day` as known today, shared between pages.
    pub fn day(&self, day: NaiveDate) -> Arc<Vec<WireRecord>> {
        let key = (day, self.as_of());
        if let Some((_, hit)) = lock(&self.cache).iter().find(|(k, _)| *k == key) {
            return hit.clone();
        }
        let as_of = key.1;
        let mut records = self.generator.changes_on(day, as_of);
        let late = lock(&self.late);
        let known: Vec<&WireRecord> = late
            .iter()
            .filter(|(recorded_on, _)| *recorded_on <= as_of)
            .map(|(_, record)| record)
            .collect();
        // The portal lists a record under its latest change only: a late
        // change takes it off every other day.
        records.retain(|r| !known.iter().any(|late| late.record_id == r.record_id));
        for (at, late) in known.iter().enumerate() {
            let latest = !known[at + 1..]
                .iter()
                .any(|later| later.record_id == late.record_id);
            if latest && late.changed_date == day.to_string() {
                records.push((*late).clone());
            }
        }
        drop(late);
        let erased = lock(&self.erased);
        records.retain(|r| {
            !erased
                .iter()
                .any(|(on, id)| *on <= as_of && *id == r.record_id)
        });
        drop(erased);
        let records = Arc::new(records);
        let mut cache = lock(&self.cache);
        if cache.len() >= CACHED_DAYS {
            cache.remove(0);
        }
        cache.push((key, records.clone()));
        records
    }

    fn roll(&self) -> f64 {
        let mut state = lock(&self.rng);
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Decides this request's fault, if any.
    fn draw_fault(&self) -> Option<Fault> {
        let mut faults = lock(&self.faults);
        if faults.outage {
            return Some(Fault::Status(StatusCode::SERVICE_UNAVAILABLE));
        }
        if faults.fail_next > 0 {
            faults.fail_next -= 1;
            return Some(Fault::Status(StatusCode::INTERNAL_SERVER_ERROR));
        }
        let faults = faults.clone();
        let mut threshold = 0.0;
        let roll = self.roll();
        for (rate, fault) in [
            (
                faults.server_error_rate,
                Fault::Status(StatusCode::BAD_GATEWAY),
            ),
            (
                faults.rate_limit_rate,
                Fault::RateLimited(faults.retry_after_secs),
            ),
            (faults.malformed_rate, Fault::Malformed),
            (faults.truncated_rate, Fault::Truncated),
            (faults.hang_rate, Fault::Hang),
            (faults.reset_rate, Fault::Reset),
        ] {
            threshold += rate;
            if roll < threshold {
                return Some(fault);
            }
        }
        None
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[derive(Debug, Clone, Copy)]
enum Fault {
    Status(StatusCode),
    RateLimited(u64),
    Malformed,
    Truncated,
    Hang,
    Reset,
}

impl Fault {
    /// How the fault is counted in [`Stats::by_kind`].
    fn kind(self) -> &'static str {
        match self {
            Fault::Status(status) if status.is_server_error() => "server_error",
            Fault::Status(_) => "status",
            Fault::RateLimited(_) => "rate_limited",
            Fault::Malformed => "malformed",
            Fault::Truncated => "truncated",
            Fault::Hang => "timeout",
            Fault::Reset => "reset",
        }
    }
}

pub fn router(portal: Arc<Portal>) -> Router {
    Router::new()
        .route("/v1/learning-records/changes", get(changes))
        .route("/_sim/faults", post(set_faults))
        .route("/_sim/as-of", post(set_as_of))
        .route("/_sim/stats", get(stats))
        .with_state(portal)
}

/// Serves the simulator on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    portal: Arc<Portal>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(portal))
        .with_graceful_shutdown(shutdown)
        .await
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangesQuery {
    date: Option<NaiveDate>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    org_code: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

async fn changes(
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
    query: Result<Query<ChangesQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    portal.stats.requests.fetch_add(1, Ordering::Relaxed);
    let latency = lock(&portal.faults).latency_ms;
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let expected = format!("Bearer {}", portal.token);
    if headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        != Some(expected.as_str())
    {
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or wrong bearer token",
        );
    }
    let Ok(Query(q)) = query else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "unreadable query parameters",
        );
    };
    let (from, to) = match (q.date, q.from, q.to) {
        (Some(day), None, None) => (day, day),
        (None, Some(from), Some(to)) if from <= to && (to - from).num_days() < MAX_RANGE_DAYS => {
            (from, to)
        }
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "give either date, or from and to at most 31 days apart",
            );
        }
    };
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "limit must be 1 to 5000",
        );
    }
    let offset = match q.cursor.as_deref().map(str::parse::<usize>) {
        None => 0,
        Some(Ok(offset)) => offset,
        Some(Err(_)) => return error(StatusCode::BAD_REQUEST, "bad_request", "unknown cursor"),
    };

    let fault = portal.draw_fault();
    if let Some(fault) = fault {
        portal.stats.faults.fetch_add(1, Ordering::Relaxed);
        *lock(&portal.stats.by_kind).entry(fault.kind()).or_default() += 1;
    }
    match fault {
        Some(Fault::Status(status)) => return error(status, "internal", "simulated failure"),
        Some(Fault::RateLimited(secs)) => {
            let mut response = error(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "slow down");
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            return response;
        }
        Some(Fault::Hang) => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        _ => {}
    }

    // Only the requested page is copied; the days stay shared in the cache.
    let days: Vec<Arc<Vec<WireRecord>>> = from
        .iter_days()
        .take_while(|day| *day <= to)
        .map(|day| portal.day(day))
        .collect();
    let mut matching = days
        .iter()
        .flat_map(|records| records.iter())
        .filter(|r| q.org_code.as_deref().is_none_or(|org| r.org_code == org))
        .skip(offset);
    let page: Vec<&WireRecord> = matching.by_ref().take(limit).collect();
    let next_cursor = matching
        .next()
        .is_some()
        .then(|| (offset + page.len()).to_string());
    let mut body = json!({"records": page, "next_cursor": next_cursor});
    for (at, record) in page.iter().enumerate() {
        if record.defect == Some(data::Defect::OddType) {
            body["records"][at]["term"] = json!(record.term.to_string());
        }
    }

    match fault {
        Some(Fault::Malformed) => {
            // Not a page of the API's shape, its records in a string — a
            // personal one, which a client must not repeat in its messages.
            body["records"] = match page.first() {
                Some(first) => json!(first.id_no),
                None => json!("not a list"),
            };
        }
        Some(Fault::Truncated) => {
            let text = body.to_string();
            let cut = text.len() / 2;
            return (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                text.as_bytes()[..cut].to_vec(),
            )
                .into_response();
        }
        Some(Fault::Reset) => {
            // Half the answer, then the connection goes (chunked, so the
            // client cannot mistake the half for the whole).
            let mut text = body.to_string().into_bytes();
            text.truncate(text.len() / 2);
            let chunks: [std::io::Result<Vec<u8>>; 2] = [
                Ok(text),
                Err(std::io::Error::from(std::io::ErrorKind::ConnectionReset)),
            ];
            return (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                axum::body::Body::from_stream(futures::stream::iter(chunks)),
            )
                .into_response();
        }
        _ => {}
    }
    Json(body).into_response()
}

async fn set_faults(State(portal): State<Arc<Portal>>, Json(faults): Json<Faults>) -> StatusCode {
    portal.set_faults(faults);
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct AsOf {
    as_of: NaiveDate,
}

async fn set_as_of(State(portal): State<Arc<Portal>>, Json(body): Json<AsOf>) -> StatusCode {
    portal.set_as_of(body.as_of);
    StatusCode::NO_CONTENT
}

async fn stats(State(portal): State<Arc<Portal>>) -> Json<serde_json::Value> {
    Json(json!({
        "requests": portal.stats.requests.load(Ordering::Relaxed),
        "faults": portal.stats.faults.load(Ordering::Relaxed),
        "as_of": portal.as_of(),
    }))
}

/// A simulator serving on an ephemeral 127.0.0.1 port; stops when dropped.
pub struct RunningPortal {
    pub portal: Arc<Portal>,
    pub address: std::net::SocketAddr,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl RunningPortal {
    /// The base URL clients are configured with.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }
}

/// Starts `portal` on 127.0.0.1 with a port the system picks.
pub async fn start(portal: Arc<Portal>) -> std::io::Result<RunningPortal> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, portal.clone(), async {
        let _ = stopped.await;
    }));
    Ok(RunningPortal {
        portal,
        address,
        _stop: stop,
    })
}
