//! State shared by every virtual user or arrival of a run, and the one place a request is
//! sent and its outcome handed to the sink.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use aurax_analysis::capacity::StepRequest;
use aurax_schema::Outcome;
use bytes::Bytes;
use rand::rngs::StdRng;
use reqwest::header::HeaderValue;

use super::request::{Outgoing, ParsedUrl, static_header_value};
use super::{Target, WallClock};
use crate::outcome::{Name, RequestOutcome};
use crate::scenario::{EndpointId, Scenario};
use crate::shard::Shard;
use crate::sink::OutcomeSender;
use crate::trace::{TraceRequest, max_tokens_of};

/// The `user_class` of replayed requests.
pub const REPLAY_CLASS: &str = "replay";

pub struct Shared {
    pub scenario: Arc<Scenario>,
    pub target: Target,
    pub sender: OutcomeSender,
    pub clock: WallClock,
    /// This worker's share of a distributed run (its index is the rows' `worker_id`).
    shard: Shard,
    seq: AtomicU64,
    pub(super) users_active: AtomicU32,
    /// Closed model: the users of the one schedule now, every worker's together.
    users_scheduled: AtomicU32,
    pub(super) in_flight: AtomicU32,
    /// Per endpoint: requests in flight and requests sent so far (a capacity search watches
    /// every endpoint's queue, not only the total's).
    by_endpoint: Vec<(AtomicU32, AtomicU64)>,
    stage: AtomicU32,
    stage_target_bits: AtomicU64,
    class_names: Vec<Name>,
    replay_class: Name,
    /// Per endpoint: its name, method and path as rows carry them.
    names: Vec<(Name, Name, Name)>,
    /// Per endpoint, its name as the `x-aurax-endpoint` header value.
    markers: Vec<Option<HeaderValue>>,
    /// Per endpoint, its path's URL parsed before the run (None: a path that does not parse
    /// fails each request, saying why).
    urls: Vec<Option<Arc<ParsedUrl>>>,
    /// A capacity search keeps each step's arrivals in memory to judge the step (the files
    /// hold them too; the judge is the same).
    step_log: Option<Mutex<Vec<StepRequest>>>,
}

impl Shared {
    pub fn new(scenario: Arc<Scenario>, target: Target, sender: OutcomeSender) -> Shared {
        let class_names = scenario
            .user_classes
            .iter()
            .map(|c| Name::interned(&c.name))
            .collect();
        let names: Vec<(Name, Name, Name)> = scenario
            .endpoints
            .iter()
            .map(|e| {
                (
                    Name::interned(&e.name),
                    Name::interned(&e.method),
                    Name::interned(&e.path),
                )
            })
            .collect();
        let markers = scenario
            .endpoints
            .iter()
            .map(|e| static_header_value(&e.name))
            .collect();
        let urls = scenario
            .endpoints
            .iter()
            .map(|e| target.parsed_url(&e.path).ok())
            .collect();
        Shared {
            scenario,
            target,
            sender,
            clock: WallClock::now(),
            shard: Shard::WHOLE,
            seq: AtomicU64::new(0),
            users_active: AtomicU32::new(0),
            users_scheduled: AtomicU32::new(0),
            in_flight: AtomicU32::new(0),
            by_endpoint: names
                .iter()
                .map(|_| (AtomicU32::new(0), AtomicU64::new(0)))
                .collect(),
            stage: AtomicU32::new(0),
            stage_target_bits: AtomicU64::new(0),
            markers,
            urls,
            class_names,
            replay_class: Name::interned(REPLAY_CLASS),
            names,
            step_log: None,
        }
    }

    /// A worker of a distributed run: its rows carry the shard's index as `worker_id`.
    pub fn with_shard(mut self, shard: Shard) -> Shared {
        self.shard = shard;
        self
    }

    /// Closed model: the users the one schedule runs now (every worker's together).
    pub(super) fn set_users_scheduled(&self, users: u64) {
        self.users_scheduled
            .store(u32::try_from(users).unwrap_or(u32::MAX), Ordering::Relaxed);
    }

    /// The `users_active` a row records: this process's users, or in a distributed run the
    /// users of all workers together as the shared schedule runs them (each worker runs its
    /// share of them), so merged files show the one load level.
    fn users_recorded(&self) -> u32 {
        if self.shard.is_distributed() {
            self.users_scheduled.load(Ordering::Relaxed)
        } else {
            self.users_active()
        }
    }

    /// Keeps every arrival's figures for [`Shared::take_step_log`] (a capacity search).
    pub fn with_step_log(mut self) -> Shared {
        self.step_log = Some(Mutex::new(Vec::new()));
        self
    }

    /// The arrivals recorded since the last call.
    pub fn take_step_log(&self) -> Vec<StepRequest> {
        self.step_log
            .as_ref()
            .map(|log| std::mem::take(&mut *log.lock().unwrap_or_else(|e| e.into_inner())))
            .unwrap_or_default()
    }

    /// Hands a finished row to the sink (and the step log, in a capacity search).
    fn deliver(&self, row: RequestOutcome) {
        if let Some(log) = &self.step_log {
            log.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(StepRequest {
                    endpoint: Arc::from(&*row.endpoint),
                    intended_us: row.intended_send_us,
                    sent_us: (row.outcome != Outcome::Dropped).then_some(row.actual_send_us),
                    latency_us: row.latency_us,
                    ok: row.outcome == Outcome::Ok,
                });
        }
        self.sender.send(row);
    }

    pub fn users_active(&self) -> u32 {
        self.users_active.load(Ordering::Relaxed)
    }

    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Per endpoint (by id): its name, requests in flight now and requests sent so far.
    pub fn endpoint_load(&self) -> Vec<(Arc<str>, u32, u64)> {
        self.by_endpoint
            .iter()
            .zip(&self.names)
            .map(|((in_flight, sent), (name, _, _))| {
                (
                    Arc::from(&**name),
                    in_flight.load(Ordering::Relaxed),
                    sent.load(Ordering::Relaxed),
                )
            })
            .collect()
    }

    /// A request of `endpoint` went out.
    fn started(&self, endpoint: EndpointId) -> u32 {
        if let Some((in_flight, sent)) = self.by_endpoint.get(endpoint) {
            in_flight.fetch_add(1, Ordering::Relaxed);
            sent.fetch_add(1, Ordering::Relaxed);
        }
        self.in_flight.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// A request of `endpoint` is over (answered, failed or cancelled).
    fn ended(&self, endpoint: EndpointId) {
        if let Some((in_flight, _)) = self.by_endpoint.get(endpoint) {
            in_flight.fetch_sub(1, Ordering::Relaxed);
        }
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    /// The stage now under way and its target (users or arrivals per second).
    pub fn stage(&self) -> (u32, f64) {
        (
            self.stage.load(Ordering::Relaxed),
            f64::from_bits(self.stage_target_bits.load(Ordering::Relaxed)),
        )
    }

    pub fn set_stage(&self, index: u32, target: f64) {
        self.stage.store(index, Ordering::Relaxed);
        self.stage_target_bits
            .store(target.to_bits(), Ordering::Relaxed);
    }

    /// Sends one request of `endpoint` and hands its outcome to the sink. `intended` is when
    /// the schedule meant it to go; any delay before the actual send is recorded, not hidden.
    pub async fn send(
        &self,
        user_id: u32,
        class: usize,
        endpoint: EndpointId,
        rng: &mut StdRng,
        intended: Instant,
    ) {
        let ep = &self.scenario.endpoints[endpoint];
        let body = ep.body.as_ref().map(|t| t.render(rng));
        let max_tokens = body.as_ref().and_then(max_tokens_of);
        let bytes = body.map(|b| Bytes::from(b.to_string()));
        let class = self.class_names[class].clone();
        let who = Who {
            user_id,
            class,
            endpoint,
            trace: None,
        };
        let row = self
            .exchange(
                who,
                Outgoing::of(
                    ep,
                    bytes,
                    self.markers[endpoint].clone(),
                    self.urls[endpoint].as_deref(),
                ),
                max_tokens,
                intended,
            )
            .await;
        self.deliver(row);
    }

    /// Sends a request a trace recorded, as recorded, and hands its outcome to the sink.
    pub async fn send_recorded(&self, user_id: u32, request: TraceRequest, intended: Instant) {
        let ep = &self.scenario.endpoints[request.endpoint];
        let out = Outgoing {
            endpoint: ep,
            method: request.method.as_deref().unwrap_or(&ep.method),
            path: request.path.as_deref().unwrap_or(&ep.path),
            // Recorded headers replace the endpoint's; a trace that recorded none (Azure CSV,
            // run directories) gets the endpoint's own.
            headers: if request.headers.is_empty() {
                &ep.headers
            } else {
                &request.headers
            },
            body: request.body.clone(),
            marker: self.markers[request.endpoint].clone(),
            url: match request.path {
                Some(_) => None,
                None => self.urls[request.endpoint].as_deref(),
            },
        };
        let path: Option<Name> = request.path.as_deref().map(Name::from);
        let who = Who {
            user_id,
            class: self.replay_class.clone(),
            endpoint: request.endpoint,
            trace: Some((request.source.clone(), request.line)),
        };
        let mut row = self.exchange(who, out, request.max_tokens, intended).await;
        if let Some(path) = path {
            row.path = path;
        }
        if let Some(m) = &request.method {
            row.method = Name::from(m.to_ascii_uppercase().as_str());
        }
        self.deliver(row);
    }

    async fn exchange(
        &self,
        who: Who,
        out: Outgoing<'_>,
        max_tokens: Option<u32>,
        intended: Instant,
    ) -> RequestOutcome {
        let bytes_sent = out.body.as_ref().map_or(0, |b| b.len() as u64);
        let users_active = self.users_recorded();
        let (stage, stage_target) = self.stage();
        let endpoint = who.endpoint;
        let in_flight = self.started(endpoint);
        let actual = Instant::now();
        let mut row = self.row(who, intended.min(actual), actual);
        row.bytes_sent = bytes_sent;
        row.max_tokens = max_tokens;
        row.users_active = users_active;
        row.in_flight = in_flight;
        row.stage = stage;
        row.stage_target = stage_target;
        // Until the answer is in, the row is pending: a request cut off when the run ends
        // (its stop timeout, a second Ctrl-C) is recorded as `cancelled`, never lost.
        let pending = Pending {
            shared: self,
            row: Some(row),
            sent: actual,
            endpoint,
        };
        // Its latency runs from the actual send time the row records: one clock, one start.
        let ex = self.target.exchange(out, actual).await;
        let mut row = pending.answered();
        row.ttfb_us = ex.ttfb_us;
        row.latency_us = ex.latency_us;
        row.status = ex.status;
        row.outcome = ex.outcome;
        row.error = ex.error;
        row.bytes_received = ex.bytes_received;
        row.model_used = ex.model_used;
        row.response_type = ex.response_type;
        row.generation = ex.generation;
        row.sends = if ex.resent { 2 } else { 1 };
        row
    }

    /// Records an arrival that was not sent because the in-flight limit was reached.
    pub fn record_dropped(&self, who: Who, intended: Instant, limit: usize) {
        let mut row = self.row(who, intended, Instant::now());
        row.outcome = Outcome::Dropped;
        row.sends = 0;
        row.error = Some(format!(
            "not sent: {limit} requests already in flight (--max-in-flight)"
        ));
        self.deliver(row);
    }

    /// The user class rows of a synthetic user carry.
    pub fn class_name(&self, class: usize) -> Name {
        self.class_names[class].clone()
    }

    pub fn replay_class(&self) -> Name {
        self.replay_class.clone()
    }

    fn row(&self, who: Who, intended: Instant, actual: Instant) -> RequestOutcome {
        let (name, method, path) = &self.names[who.endpoint];
        let (stage, stage_target) = self.stage();
        RequestOutcome {
            worker_id: self.shard.index,
            seq: self.seq.fetch_add(1, Ordering::Relaxed),
            user_class: who.class,
            user_id: who.user_id,
            endpoint: name.clone(),
            method: method.clone(),
            path: path.clone(),
            intended_send_us: self.clock.micros_at(intended),
            actual_send_us: self.clock.micros_at(actual),
            ttfb_us: None,
            latency_us: 0,
            status: None,
            outcome: Outcome::Other,
            error: None,
            bytes_sent: 0,
            bytes_received: 0,
            model_used: None,
            response_type: None,
            max_tokens: None,
            users_active: self.users_recorded(),
            in_flight: self.in_flight(),
            stage,
            stage_target,
            trace: who.trace,
            generation: None,
            sends: 1,
        }
    }
}

/// A request sent and not answered yet. Dropped unanswered (the request's task aborted when
/// the run ends), it hands a `cancelled` row to the sink with how long the request waited.
struct Pending<'a> {
    shared: &'a Shared,
    row: Option<RequestOutcome>,
    sent: Instant,
    endpoint: EndpointId,
}

impl Pending<'_> {
    /// The answer came: the row, no longer pending.
    fn answered(mut self) -> RequestOutcome {
        self.shared.ended(self.endpoint);
        self.row.take().expect("a pending request is answered once")
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if let Some(mut row) = self.row.take() {
            self.shared.ended(self.endpoint);
            row.latency_us = self.sent.elapsed().as_micros() as i64;
            row.outcome = Outcome::Cancelled;
            row.error = Some(
                "cancelled: no answer when the run stopped (--stop-timeout, or a second stop signal)"
                    .to_string(),
            );
            self.shared.deliver(row);
        }
    }
}

/// Who sent a request: the user (or arrival) and its class, the endpoint, the trace line.
pub struct Who {
    pub user_id: u32,
    pub class: Name,
    pub endpoint: EndpointId,
    pub trace: Option<(Arc<str>, u64)>,
}
