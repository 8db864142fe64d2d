//! A fault-injecting proxy between the functions and the DynamoDB engine,
//! on 127.0.0.1. It speaks DynamoDB's own protocol back: throttling and
//! internal-error answers in the SDK's error shape, batch writes with part
//! of their items returned unprocessed, and connections dropped before or
//! after the call took effect. Everything else is forwarded untouched.
//!
//! It also models the cloud for benchmarks ([`CloudModel`]): a round trip
//! per call and a table's write capacity, throttled the way DynamoDB does,
//! so a benchmark measures what the import would do in AWS rather than what
//! the embedded engine happens to allow.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use dynamodb_store::Store;
use serde_json::{Value, json};

/// Probabilities per call, drawn from a seeded generator.
#[derive(Debug, Clone, Copy, Default)]
pub struct DbFaults {
    /// 400 `ThrottlingException` (the SDK retries it).
    pub throttle_rate: f64,
    /// 500 `InternalServerError`.
    pub server_error_rate: f64,
    /// A BatchWriteItem that writes only its first half and returns the
    /// rest as `UnprocessedItems`.
    pub unprocessed_rate: f64,
    /// The connection dropped before the call reaches the engine.
    pub drop_before_rate: f64,
    /// The call takes effect, then the connection drops before the answer.
    pub drop_after_rate: f64,
}

/// What a call costs in the cloud: latency, and write units against a
/// table's capacity. DynamoDB bills a write 1 WCU per KB of item (counted
/// here as the item's JSON size, a little above DynamoDB's own), twice that
/// inside a transaction, and a failed condition costs as much as a write.
#[derive(Debug, Clone, Copy)]
pub struct CloudModel {
    pub per_call: std::time::Duration,
    pub per_item: std::time::Duration,
    /// Write units per second the table sustains. A second's worth may be
    /// spent at once (burst); past that, single-item writes and
    /// transactions fail with `ProvisionedThroughputExceededException`
    /// and batch writes answer the items left over as unprocessed.
    pub wcu_per_s: f64,
}

impl CloudModel {
    /// The model: 10 ms a call, 0.1 ms an item, `wcu_per_s`.
    pub fn with_capacity(wcu_per_s: f64) -> Self {
        CloudModel {
            per_call: std::time::Duration::from_millis(10),
            per_item: std::time::Duration::from_micros(100),
            wcu_per_s,
        }
    }
}

/// The write units left, refilled as time goes by.
struct Capacity {
    model: CloudModel,
    tokens: f64,
    at: std::time::Instant,
    consumed: f64,
    throttled: u64,
}

impl Capacity {
    /// Takes up to `wanted` units in whole items (`units` each): how many
    /// items may go through.
    fn take(&mut self, units: &[f64]) -> usize {
        let now = std::time::Instant::now();
        let rate = self.model.wcu_per_s;
        self.tokens = (self.tokens + now.duration_since(self.at).as_secs_f64() * rate).min(rate);
        self.at = now;
        let mut granted = 0;
        for unit in units {
            if *unit > self.tokens {
                break;
            }
            self.tokens -= unit;
            self.consumed += unit;
            granted += 1;
        }
        if granted < units.len() {
            self.throttled += 1;
        }
        granted
    }
}

pub struct FaultProxy {
    pub url: String,
    /// BatchWriteItem answers every item unprocessed while above zero
    /// (counting down; -1 means forever).
    pub throttled_writes: Arc<AtomicI64>,
    state: Arc<Shared>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

struct Shared {
    upstream: String,
    http: reqwest::Client,
    throttled_writes: Arc<AtomicI64>,
    faults: Mutex<DbFaults>,
    rng: Mutex<fastrand::Rng>,
    injected: Mutex<BTreeMap<&'static str, u64>>,
    cloud: Mutex<Option<Capacity>>,
}

/// A proxy in front of the tests' shared engine.
pub async fn fault_proxy() -> FaultProxy {
    proxy_to(crate::engine_url().await).await
}

/// A proxy in front of the engine at `upstream`.
pub async fn proxy_to(upstream: String) -> FaultProxy {
    let throttled_writes = Arc::new(AtomicI64::new(0));
    let state = Arc::new(Shared {
        upstream,
        http: crate::http_client(),
        throttled_writes: throttled_writes.clone(),
        faults: Mutex::new(DbFaults::default()),
        rng: Mutex::new(fastrand::Rng::with_seed(0xDB)),
        injected: Mutex::new(BTreeMap::new()),
        cloud: Mutex::new(None),
    });
    let handler_state = state.clone();
    let app = axum::Router::new().fallback(axum::routing::post(
        move |headers: HeaderMap, body: Bytes| {
            let state = handler_state.clone();
            async move { state.answer(headers, body).await }
        },
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("proxy port");
    let url = format!("http://{}", listener.local_addr().expect("proxy address"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
    });
    FaultProxy {
        url,
        throttled_writes,
        state,
        _stop: stop,
    }
}

impl FaultProxy {
    /// A store on the same table, reached through the proxy.
    pub fn store(&self, table: &Store) -> Store {
        Store::new(local_stack::dynamodb_client(&self.url), table.table())
    }

    pub fn set_faults(&self, faults: DbFaults) {
        *lock(&self.state.faults) = faults;
    }

    /// The faults drawn from now on follow `seed` (a replayable run).
    pub fn reseed(&self, seed: u64) {
        *lock(&self.state.rng) = fastrand::Rng::with_seed(seed);
    }

    /// From now on every call costs what `model` says.
    pub fn set_cloud_model(&self, model: CloudModel) {
        *lock(&self.state.cloud) = Some(Capacity {
            model,
            tokens: model.wcu_per_s,
            at: std::time::Instant::now(),
            consumed: 0.0,
            throttled: 0,
        });
    }

    /// The table's write capacity from now on, under the same model; what
    /// was consumed so far stays counted.
    pub fn set_write_capacity(&self, wcu_per_s: f64) {
        if let Some(capacity) = lock(&self.state.cloud).as_mut() {
            capacity.model.wcu_per_s = wcu_per_s;
            capacity.tokens = capacity.tokens.min(wcu_per_s);
        }
    }

    /// Write units consumed and calls throttled under the cloud model.
    pub fn cloud_usage(&self) -> (f64, u64) {
        lock(&self.state.cloud)
            .as_ref()
            .map_or((0.0, 0), |c| (c.consumed, c.throttled))
    }

    /// Faults injected so far, by kind.
    pub fn injected(&self) -> BTreeMap<&'static str, u64> {
        lock(&self.state.injected).clone()
    }
}

#[derive(Clone, Copy)]
enum Fault {
    Throttle,
    ServerError,
    Unprocessed,
    DropBefore,
    DropAfter,
}

impl Shared {
    fn draw(&self, batch_write: bool) -> Option<Fault> {
        let faults = *lock(&self.faults);
        let roll = lock(&self.rng).f64();
        let mut threshold = 0.0;
        for (rate, fault) in [
            (faults.throttle_rate, Fault::Throttle),
            (faults.server_error_rate, Fault::ServerError),
            (
                if batch_write {
                    faults.unprocessed_rate
                } else {
                    0.0
                },
                Fault::Unprocessed,
            ),
            (faults.drop_before_rate, Fault::DropBefore),
            (faults.drop_after_rate, Fault::DropAfter),
        ] {
            threshold += rate;
            if roll < threshold {
                return Some(fault);
            }
        }
        None
    }

    fn count(&self, kind: &'static str) {
        *lock(&self.injected).entry(kind).or_default() += 1;
    }

    async fn answer(&self, headers: HeaderMap, body: Bytes) -> Response {
        let target = headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let batch_write = target.ends_with("BatchWriteItem");
        let all_unprocessed = batch_write
            && self
                .throttled_writes
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| match n {
                    0 => None,
                    -1 => Some(-1),
                    n => Some(n - 1),
                })
                .is_ok();
        if all_unprocessed {
            let request: Value = serde_json::from_slice(&body).unwrap_or_default();
            return json_answer(
                StatusCode::OK,
                &json!({"UnprocessedItems": request["RequestItems"]}),
            );
        }
        match self.draw(batch_write) {
            None => self.pass(target, &headers, body).await,
            Some(Fault::Throttle) => {
                self.count("throttled");
                error_answer(
                    StatusCode::BAD_REQUEST,
                    "com.amazonaws.dynamodb.v20120810#ThrottlingException",
                )
            }
            Some(Fault::ServerError) => {
                self.count("500");
                error_answer(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "com.amazonaws.dynamodb.v20120810#InternalServerError",
                )
            }
            Some(Fault::Unprocessed) => {
                self.count("unprocessed items");
                self.write_half(&headers, &body).await
            }
            Some(Fault::DropBefore) => {
                self.count("dropped before");
                dropped()
            }
            Some(Fault::DropAfter) => {
                self.count("dropped after");
                let _ = self.pass(target, &headers, body).await;
                dropped()
            }
        }
    }

    /// A call no fault struck: to the engine, as the cloud would answer
    /// it when a model is set.
    async fn pass(&self, target: &str, headers: &HeaderMap, body: Bytes) -> Response {
        if lock(&self.cloud).is_some() {
            self.as_in_the_cloud(target, headers, body).await
        } else {
            self.forward(headers, body).await
        }
    }

    async fn forward(&self, headers: &HeaderMap, body: Bytes) -> Response {
        let mut forward = self.http.post(&self.upstream).body(body);
        for (name, value) in headers {
            if name != "host" && name != "content-length" {
                forward = forward.header(name.as_str(), value.as_bytes());
            }
        }
        match forward.send().await {
            Ok(response) => {
                let status = StatusCode::from_u16(response.status().as_u16())
                    .unwrap_or(StatusCode::BAD_GATEWAY);
                let bytes = response.bytes().await.unwrap_or_default();
                (
                    status,
                    [("content-type", "application/x-amz-json-1.0")],
                    bytes,
                )
                    .into_response()
            }
            Err(_) => StatusCode::BAD_GATEWAY.into_response(),
        }
    }

    /// The call as the cloud would answer it: after its round trip, and
    /// within the table's write capacity.
    async fn as_in_the_cloud(&self, target: &str, headers: &HeaderMap, body: Bytes) -> Response {
        let operation = target.rsplit('.').next().unwrap_or_default();
        let request: Value = serde_json::from_slice(&body).unwrap_or_default();
        let per_kb = |item: &Value| (item.to_string().len() as f64 / 1024.0).ceil().max(1.0);
        // Write units of each item, in order, and how the call is cut.
        let units: Vec<f64> = match operation {
            "PutItem" => vec![per_kb(&request["Item"])],
            "UpdateItem" | "DeleteItem" => vec![1.0],
            "TransactWriteItems" => request["TransactItems"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|action| match action.get("Put") {
                    Some(put) => 2.0 * per_kb(&put["Item"]),
                    None => 2.0,
                })
                .collect(),
            // Each statement a write of its parameters' size (the CSV
            // import's INSERTs).
            "BatchExecuteStatement" => request["Statements"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|statement| per_kb(&statement["Parameters"]))
                .collect(),
            "BatchWriteItem" => request["RequestItems"]
                .as_object()
                .into_iter()
                .flat_map(|tables| tables.values())
                .flat_map(|writes| writes.as_array().into_iter().flatten())
                .map(|write| match write.pointer("/PutRequest/Item") {
                    Some(item) => per_kb(item),
                    None => 1.0,
                })
                .collect(),
            _ => Vec::new(),
        };
        let items = match operation {
            "BatchGetItem" => request["RequestItems"]
                .as_object()
                .into_iter()
                .flat_map(|tables| tables.values())
                .map(|t| t["Keys"].as_array().map_or(0, Vec::len))
                .sum(),
            _ => units.len().max(1),
        };
        let (model, granted) = {
            let mut cloud = lock(&self.cloud);
            let Some(capacity) = cloud.as_mut() else {
                return StatusCode::BAD_GATEWAY.into_response();
            };
            (capacity.model, capacity.take(&units))
        };
        tokio::time::sleep(model.per_call + model.per_item * items as u32).await;
        if granted == units.len() {
            return self.forward(headers, body).await;
        }
        if operation == "BatchExecuteStatement" {
            return self.statements_within(headers, request, granted).await;
        }
        if operation != "BatchWriteItem" || granted == 0 {
            return error_answer(
                StatusCode::BAD_REQUEST,
                "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
            );
        }
        // A batch writes the items the capacity allows and hands the rest
        // back as unprocessed.
        let mut left = granted;
        self.write_part(headers, request, |writes| {
            let keep = left.min(writes);
            left -= keep;
            keep
        })
        .await
    }

    /// Forwards a batch write with each table's writes cut to what `keep`
    /// says (given how many it has); answers the rest as unprocessed,
    /// together with whatever the engine itself left.
    async fn write_part(
        &self,
        headers: &HeaderMap,
        mut request: Value,
        mut keep: impl FnMut(usize) -> usize,
    ) -> Response {
        let mut held = serde_json::Map::new();
        if let Some(tables) = request["RequestItems"].as_object_mut() {
            for (table, writes) in tables.iter_mut() {
                if let Some(list) = writes.as_array_mut() {
                    let rest = list.split_off(keep(list.len()));
                    if !rest.is_empty() {
                        held.insert(table.clone(), Value::Array(rest));
                    }
                }
            }
            tables.retain(|_, writes| writes.as_array().is_some_and(|w| !w.is_empty()));
        }
        let answer = self
            .forward(headers, Bytes::from(request.to_string()))
            .await;
        self.with_unprocessed(answer, held).await
    }

    /// A batch of statements runs the first `granted`; each of the others
    /// answers `ProvisionedThroughputExceeded`, as DynamoDB answers a
    /// statement over the capacity.
    async fn statements_within(
        &self,
        headers: &HeaderMap,
        mut request: Value,
        granted: usize,
    ) -> Response {
        let statements = request["Statements"]
            .as_array_mut()
            .map(std::mem::take)
            .unwrap_or_default();
        let refused = statements.len() - granted;
        let mut responses = Vec::new();
        if granted > 0 {
            request["Statements"] = Value::Array(statements[..granted].to_vec());
            let answer = self
                .forward(headers, Bytes::from(request.to_string()))
                .await;
            if answer.status() != StatusCode::OK {
                return answer;
            }
            let bytes = axum::body::to_bytes(answer.into_body(), usize::MAX)
                .await
                .unwrap_or_default();
            let answer: Value = serde_json::from_slice(&bytes).unwrap_or_default();
            responses = answer["Responses"].as_array().cloned().unwrap_or_default();
        }
        responses.extend((0..refused).map(|_| {
            json!({"Error": {"Code": "ProvisionedThroughputExceeded", "Message": "over the modelled capacity"}})
        }));
        json_answer(StatusCode::OK, &json!({ "Responses": responses }))
    }

    /// Writes each table's first half; answers the rest as unprocessed,
    /// together with whatever the engine itself left.
    async fn write_half(&self, headers: &HeaderMap, body: &Bytes) -> Response {
        let request: Value = serde_json::from_slice(body).unwrap_or_default();
        self.write_part(headers, request, |writes| writes.div_ceil(2))
            .await
    }

    /// The engine's answer to a batch write, with `held` added to the
    /// items it left unprocessed.
    async fn with_unprocessed(
        &self,
        answer: Response,
        mut held: serde_json::Map<String, Value>,
    ) -> Response {
        if answer.status() != StatusCode::OK {
            return answer;
        }
        let bytes = axum::body::to_bytes(answer.into_body(), usize::MAX)
            .await
            .unwrap_or_default();
        let mut answer: Value = serde_json::from_slice(&bytes).unwrap_or_default();
        let unprocessed = answer["UnprocessedItems"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        for (table, writes) in unprocessed {
            if let (Some(mine), Some(theirs)) = (
                held.get_mut(&table).and_then(Value::as_array_mut),
                writes.as_array(),
            ) {
                mine.extend(theirs.iter().cloned());
            } else {
                held.insert(table, writes);
            }
        }
        answer["UnprocessedItems"] = Value::Object(held);
        json_answer(StatusCode::OK, &answer)
    }
}

fn json_answer(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [("content-type", "application/x-amz-json-1.0")],
        body.to_string(),
    )
        .into_response()
}

fn error_answer(status: StatusCode, kind: &str) -> Response {
    json_answer(
        status,
        &json!({"__type": kind, "message": "injected by the fault proxy"}),
    )
}

/// Headers, then the connection goes: the client hears no answer.
fn dropped() -> Response {
    let chunks: [std::io::Result<Bytes>; 1] = [Err(std::io::Error::from(
        std::io::ErrorKind::ConnectionReset,
    ))];
    Response::new(Body::from_stream(futures::stream::iter(chunks)))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
