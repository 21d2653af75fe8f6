//! Recording: a valid [`Event`] becomes counter increments, histogram observations and an
//! issuer-lead update; a refused one becomes a count by error class. The one code path behind
//! HTTP push, file tailing, `/v1/verify` and `analyze`, and the only writer of
//! `skew_events_received_total`, `skew_events_invalid_total`,
//! `skew_events_token_unreadable_total`, `skew_label_overflow_total` and
//! the per-pair JWT families.
//!
//! Hot-path choices: label values are bounded once per distinct (source, issuer) pair, and the
//! pair's series ([`PairSeries`], the exporter's own atomics, see `metrics::jwt`) are looked up
//! once in the one map of pairs, [`crate::metrics::JwtMetrics::pair`]; a [`Batch`] keeps the
//! last few pairs it used so that most events touch no lock at all. What every event counts
//! (received, verifications, token age, verification delay, key id) the batch keeps in plain
//! integers per pair and adds to the shared atomics every [`FLUSH_EVERY`] events, when it
//! forgets a pair, and when it is dropped or its [`crate::ingest::Ingest`] finishes: an atomic
//! add costs ~7 ns here, a plain one under 1 ns, and an event made ~10 of them. Rarer series
//! (rejections and their causes, edges) are added at once. The only lock per event is the
//! pair's own lead window (held by its series), a short uncontended critical section with no
//! `.await` inside (so a std mutex is right).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use std::cell::OnceCell;

use arc_swap::ArcSwap;
use prometheus::{Gauge, IntCounter};

use crate::event::{Event, InvalidEvent, Outcome, Reason};
use crate::labels::{Bounded, LabelGuard};
use crate::metrics::{AtomicHistogram, LocalHistogram, Metrics, PairSeries, Transport};
/// The issuer-lead window and its slot width live with the series they feed, in `metrics`.
pub use crate::metrics::{LeadWindow, LEAD_SLOT};
use crate::verdict::{cause, leeway_used, lifetime_fraction, CauseSettings, Edge, Times};

/// Recorder settings (from `[events]` in the configuration).
#[derive(Debug, Clone, PartialEq)]
pub struct RecorderSettings {
    pub source_allow: Option<Vec<String>>,
    pub issuer_allow: Option<Vec<String>>,
    pub max_sources: usize,
    pub max_issuers: usize,
    /// Sliding window of event time for the issuer lead (a multiple of 10 s).
    pub lead_window: Duration,
    /// `events.expiry-edge` and `events.stale-after`: the thresholds of a time rejection's cause.
    pub causes: CauseSettings,
    /// `events.lead-min-samples`: no lead is exported (or used for a cause) from fewer tokens.
    pub lead_min_samples: u64,
    /// `events.kids` and `events.max-kids`: the guard of the `kid` label.
    pub kid_allow: Option<Vec<String>>,
    pub max_kids: usize,
    /// `events.local-sources`: sources whose verifier runs on this host (besides `/v1/verify`'s).
    pub local_sources: Vec<String>,
}

impl Default for RecorderSettings {
    fn default() -> Self {
        RecorderSettings {
            source_allow: None,
            issuer_allow: None,
            max_sources: 32,
            max_issuers: 32,
            lead_window: Duration::from_secs(300),
            causes: CauseSettings::default(),
            lead_min_samples: 3,
            kid_allow: None,
            max_kids: 32,
            local_sources: Vec::new(),
        }
    }
}

/// Records events into the metrics. Shared by every ingestion task.
pub struct Recorder {
    metrics: Arc<Metrics>,
    /// Replaced whole by [`Recorder::reconfigure`] (a reload); read once per pair lookup.
    guards: ArcSwap<Guards>,
    /// Slots of [`LEAD_SLOT`] in each pair's lead window (not changed by a reload).
    lead_slots: usize,
    /// `skew_events_received_total{transport}` and `skew_events_token_unreadable_total{transport}`
    /// by [`Transport`] index, each resolved by the first batch of its transport: a
    /// `/v1/verify` request is a batch, and looking them up again was ~1 % of its CPU.
    per_transport: [OnceLock<(IntCounter, IntCounter)>; Transport::ALL.len()],
}

/// The cardinality guards of `source`, `issuer` and `kid`.
struct Guards {
    sources: LabelGuard,
    issuers: LabelGuard,
    kids: LabelGuard,
    /// The thresholds of a time rejection's cause and the lead's minimum, replaced with the
    /// guards on a reload.
    judge: Judge,
}

/// What a batch reads once from the settings to judge its events.
#[derive(Debug, Clone, Copy)]
struct Judge {
    causes: CauseSettings,
    lead_min_samples: u64,
    lead_slots: usize,
}

/// A batch's cache entry: the raw (source, issuer) as they came in, what they resolved to, and
/// what the batch has counted for the pair but not yet added to its series.
struct Cached {
    /// [`pair_hash`] of the raw pair: most entries are passed over without a string compare.
    key: u64,
    source: Option<Box<str>>,
    issuer: Option<Box<str>>,
    resolved: Resolved,
    pending: Pending,
}

/// The per-event counts of one pair that a batch keeps locally ([`LocalHistogram`]: plain adds
/// instead of two atomic adds per observation) until [`Batch::flush`]: verifications, token
/// ages, verification delays. Rarer series (rejections, causes, edges) are added at once.
struct Pending {
    /// Accepted, rejected.
    verifications: [u64; 2],
    /// `skew_jwt_age_seconds` by outcome (accepted, rejected).
    age: [LocalHistogram; 2],
    /// `skew_jwt_verification_delay_seconds` of the pair's source.
    delay: LocalHistogram,
}

impl Cached {
    /// Adds what the batch counted for this pair to the shared series, and empties it.
    fn flush(&mut self, recorder: &Recorder) {
        let (p, r) = (&mut self.pending, &mut self.resolved);
        r.series.count(std::mem::take(&mut p.verifications));
        for (o, local) in OUTCOMES.into_iter().zip(p.age.iter_mut()) {
            r.series.merge_age(o, local);
        }
        if !p.delay.is_empty() {
            r.delay
                .get_or_init(|| recorder.metrics.verdicts.delay.series(&r.series.source()))
                .merge(&mut p.delay);
        }
        for k in &mut r.kids {
            k.flush();
        }
    }
}

/// A cheap hash of a raw (source, issuer), for the batch cache (FxHash's mixing, 8 bytes at a
/// time; equal pairs are still confirmed by comparing the strings).
fn pair_hash(source: Option<&str>, issuer: Option<&str>) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h = 0u64;
    let mut add = |w: u64| h = (h.rotate_left(5) ^ w).wrapping_mul(K);
    for part in [source, issuer] {
        let Some(t) = part else {
            add(u64::MAX);
            continue;
        };
        add(t.len() as u64);
        let mut chunks = t.as_bytes().chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            add(u64::from_le_bytes(w));
        }
        // Byte by byte: a copy of a variable length is a call to memcpy.
        let tail = chunks.remainder().iter().enumerate();
        add(tail.fold(0, |w, (i, b)| w | u64::from(*b) << (8 * i)));
    }
    h
}

/// Accepted, rejected: the index of [`Pending`]'s arrays.
const OUTCOMES: [Outcome; 2] = [Outcome::Accepted, Outcome::Rejected];

fn outcome_index(o: Outcome) -> usize {
    usize::from(o == Outcome::Rejected)
}

/// How many events a batch records before it adds its local counts to the shared series, so
/// that a long batch (`analyze`, a tailer catching up on a large file) shows while it runs. A
/// batch also adds them when it forgets a pair and when it is dropped.
pub const FLUSH_EVERY: u64 = 4096;

/// What the guard made of the raw `source` and `issuer` of an event, and the series of the pair
/// they map to.
struct Resolved {
    series: Arc<PairSeries>,
    /// The pair's source's `skew_jwt_verification_delay_seconds` (created on first flush of
    /// a delay: a source that never reports `received` has none).
    delay: OnceCell<Arc<AtomicHistogram>>,
    /// The pair's source's `skew_jwt_verifier_leeway_seconds`, on first use.
    leeway: OnceCell<Gauge>,
    /// The last few key ids of the pair's events: raw `kid`, its two
    /// `skew_jwt_key_verifications_total{outcome}` counters, and whether it overflowed.
    kids: Vec<KidCounters>,
    source_overflow: bool,
    issuer_overflow: bool,
}

/// One key id's counters, for the batch cache.
struct KidCounters {
    raw: Option<Box<str>>,
    /// `accepted`, `rejected`.
    counters: [IntCounter; 2],
    /// Counted by the batch, not yet added to `counters`.
    pending: [u64; 2],
    overflow: bool,
}

impl KidCounters {
    fn flush(&mut self) {
        for (c, n) in self.counters.iter().zip(std::mem::take(&mut self.pending)) {
            if n > 0 {
                c.inc_by(n);
            }
        }
    }
}

/// How many key ids a pair's cache entry remembers (a key rollout has two or three).
const KID_CACHE: usize = 4;

impl Recorder {
    pub fn new(metrics: Arc<Metrics>, settings: &RecorderSettings) -> Self {
        let slots = (settings.lead_window.as_secs() / LEAD_SLOT.as_secs()).max(1) as usize;
        metrics.set_local_sources(&settings.local_sources);
        Recorder {
            metrics,
            guards: ArcSwap::from_pointee(Guards {
                sources: LabelGuard::new(settings.source_allow.clone(), settings.max_sources),
                issuers: LabelGuard::new(settings.issuer_allow.clone(), settings.max_issuers),
                kids: LabelGuard::new(settings.kid_allow.clone(), settings.max_kids),
                judge: Judge {
                    causes: settings.causes,
                    lead_min_samples: settings.lead_min_samples,
                    lead_slots: slots,
                },
            }),
            lead_slots: slots,
            per_transport: Default::default(),
        }
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// New allow-lists and limits for `source` and `issuer` (a reload), for events recorded from
    /// now on. Without an allow-list, the values that already have series keep them (up to the
    /// new limit), so a reload does not move a busy issuer into `other`. Series of values no
    /// longer allowed stay as they are (counters are never reset) and stop growing. The lead
    /// window is not changed here.
    pub fn reconfigure(&self, settings: &RecorderSettings) {
        self.metrics.set_local_sources(&settings.local_sources);
        let old = self.guards.load();
        let guards = Arc::new(Guards {
            sources: LabelGuard::new(settings.source_allow.clone(), settings.max_sources)
                .seeded_from(&old.sources),
            issuers: LabelGuard::new(settings.issuer_allow.clone(), settings.max_issuers)
                .seeded_from(&old.issuers),
            kids: LabelGuard::new(settings.kid_allow.clone(), settings.max_kids)
                .seeded_from(&old.kids),
            judge: Judge {
                causes: settings.causes,
                lead_min_samples: settings.lead_min_samples,
                lead_slots: self.lead_slots,
            },
        });
        self.guards.store(guards);
    }

    /// A batch: records many events with a small cache of resolved pairs.
    pub fn batch(&self, transport: Transport) -> Batch<'_> {
        self.batch_reusing(transport, None)
    }

    /// A batch that starts with the pairs a finished batch of this recorder resolved
    /// ([`Batch::finish`]), if they were resolved under the guards in force now; otherwise an
    /// empty one. For `/v1/verify`, whose every request is a batch of one event.
    pub fn batch_reusing(&self, transport: Transport, reuse: Option<PairCache>) -> Batch<'_> {
        let (received, token_unreadable) = self.per_transport[transport as usize]
            .get_or_init(|| {
                let ingest = &self.metrics.ingest;
                let label = [transport.as_str()];
                (
                    ingest.received.with_label_values(&label),
                    ingest.token_unreadable.with_label_values(&label),
                )
            })
            .clone();
        let guards = self.guards.load_full();
        let cache = match reuse {
            Some(p) if Arc::ptr_eq(&p.guards, &guards) => p.entries,
            // Grown as pairs come: a `/v1/verify` request is a batch of one event.
            _ => Vec::new(),
        };
        Batch {
            recorder: self,
            received,
            token_unreadable,
            received_pending: 0,
            transport,
            guards,
            cache,
        }
    }

    /// The two `skew_jwt_key_verifications_total` counters of `kid` (bounded; `none` when
    /// absent) for the pair's source, and whether the key id was folded into `other`.
    fn kid_counters(&self, source: &str, kid: Option<&str>) -> KidCounters {
        let bounded = kid.map(|k| self.guards.load().kids.bound(Some(k)));
        let label = bounded.as_ref().map_or(NO_KID, Bounded::as_str);
        let c = &self.metrics.verdicts.key_verifications;
        KidCounters {
            raw: kid.map(Box::from),
            counters: [
                c.with_label_values(&[source, label, "accepted"]),
                c.with_label_values(&[source, label, "rejected"]),
            ],
            pending: [0; 2],
            overflow: bounded == Some(Bounded::Overflow),
        }
    }

    fn resolve(&self, source: Option<&str>, issuer: Option<&str>) -> Resolved {
        let guards = self.guards.load();
        let s = guards.sources.bound(source);
        let i = guards.issuers.bound(issuer);
        Resolved {
            source_overflow: s == Bounded::Overflow,
            issuer_overflow: i == Bounded::Overflow,
            delay: OnceCell::new(),
            leeway: OnceCell::new(),
            kids: Vec::new(),
            // Both verification series exist from the pair's creation on, at 0; the rest on
            // first use.
            series: self.metrics.jwt.pair(arc(s), arc(i)),
        }
    }
}

fn arc(b: Bounded) -> Arc<str> {
    match b {
        Bounded::Kept(s) => s,
        Bounded::Overflow => Arc::from(crate::labels::OTHER),
    }
}

/// The `kid` label of an event without a key id.
pub const NO_KID: &str = "none";

/// How many resolved pairs a batch remembers.
const BATCH_CACHE: usize = 16;

/// Records a run of events from one transport. What it counts per event is added to the shared
/// series every [`FLUSH_EVERY`] events and when it is dropped.
pub struct Batch<'r> {
    recorder: &'r Recorder,
    transport: Transport,
    /// `skew_events_received_total{transport}`, resolved once per batch.
    received: IntCounter,
    /// Events recorded since the last flush, not yet added to `received`.
    received_pending: u64,
    /// `skew_events_token_unreadable_total{transport}`, resolved once per batch.
    token_unreadable: IntCounter,
    /// The guards in force when the batch began: their cause thresholds and lead minimum judge
    /// its events, and its [`PairCache`] is valid under them.
    guards: Arc<Guards>,
    cache: Vec<Cached>,
}

/// The pairs a finished batch resolved (at most `BATCH_CACHE`, each with its key-id
/// counters), for a later batch of the same recorder: [`Recorder::batch_reusing`]. Resolving a
/// pair looks up its labels, its series and its counters; `/v1/verify` records one event per
/// request, and doing that again for each one was ~3 400 instructions of a cache hit. It holds
/// nothing pending (the batch was flushed) and only handles of series that are never removed,
/// and it is used only under the guards it was resolved with: a reload's new guards drop it.
pub struct PairCache {
    guards: Arc<Guards>,
    entries: Vec<Cached>,
}

impl Batch<'_> {
    /// Records one valid event, and counts it as received.
    pub fn record(&mut self, e: &Event<'_>) {
        self.received_pending += 1;
        if e.token_unreadable {
            self.token_unreadable.inc();
        }
        let source = e.source.as_deref();
        let issuer = e.issuer.as_deref();
        let key = pair_hash(source, issuer);
        let idx = match self.cache.iter().position(|c| {
            c.key == key && c.source.as_deref() == source && c.issuer.as_deref() == issuer
        }) {
            Some(i) => i,
            None => {
                let r = self.recorder.resolve(source, issuer);
                if self.cache.len() == BATCH_CACHE {
                    self.cache.remove(0).flush(self.recorder);
                }
                self.cache.push(Cached {
                    key,
                    source: source.map(Box::from),
                    issuer: issuer.map(Box::from),
                    resolved: r,
                    pending: Pending {
                        verifications: [0; 2],
                        age: [LocalHistogram::new(), LocalHistogram::new()],
                        delay: LocalHistogram::new(),
                    },
                });
                self.cache.len() - 1
            }
        };
        let recorder = self.recorder;
        let c = &mut self.cache[idx];
        let r = &c.resolved;
        let overflow = &recorder.metrics.ingest.label_overflow;
        if r.source_overflow {
            overflow.with_label_values(&["source"]).inc();
        }
        if r.issuer_overflow {
            overflow.with_label_values(&["issuer"]).inc();
        }
        if let Some(received) = e.received {
            // A negative delay (received after ts on the verifier's own clock: a clock stepped
            // back in between, or a verifier that mixes clocks) is counted at 0, as a negative
            // expired-by is: the event still happened, and it waited no time we can measure.
            let delay = (e.ts - received).max(0.0);
            c.pending
                .delay
                .observe(recorder.metrics.verdicts.delay.bounds(), delay);
        }
        if let Some(leeway) = e.leeway {
            r.leeway
                .get_or_init(|| {
                    recorder
                        .metrics
                        .verdicts
                        .verifier_leeway
                        .with_label_values(&[&r.series.source()])
                })
                .set(leeway);
        }
        count_kid(recorder, &mut c.resolved, e);
        record_into(&c.resolved.series, &mut c.pending, e, &self.guards.judge);
        if self.received_pending >= FLUSH_EVERY {
            self.flush();
        }
    }

    /// Flushes, and keeps the resolved pairs for [`Recorder::batch_reusing`].
    pub fn finish(mut self) -> PairCache {
        self.flush();
        PairCache {
            guards: self.guards.clone(),
            entries: std::mem::take(&mut self.cache),
        }
    }

    /// Adds everything counted so far to the shared series.
    pub fn flush(&mut self) {
        for c in &mut self.cache {
            c.flush(self.recorder);
        }
        self.received
            .inc_by(std::mem::take(&mut self.received_pending));
    }

    /// Counts a refused event against this batch's transport. Called by
    /// [`crate::ingest::Ingest::refuse`], which also reports it to the sender.
    pub(crate) fn invalid(&self, e: &InvalidEvent) {
        self.recorder
            .metrics
            .ingest
            .invalid
            .with_label_values(&[self.transport.as_str(), e.kind.as_str()])
            .inc();
    }
}

/// `skew_jwt_key_verifications_total{source,kid,outcome}` += 1 (pending until the flush),
/// through the pair's cache of key ids.
fn count_kid(recorder: &Recorder, r: &mut Resolved, e: &Event<'_>) {
    let kid = e.kid.as_deref();
    let i = match r.kids.iter().position(|k| k.raw.as_deref() == kid) {
        Some(i) => i,
        None => {
            if r.kids.len() == KID_CACHE {
                r.kids.remove(0).flush();
            }
            r.kids.push(recorder.kid_counters(&r.series.source(), kid));
            r.kids.len() - 1
        }
    };
    let k = &mut r.kids[i];
    if k.overflow {
        recorder
            .metrics
            .ingest
            .label_overflow
            .with_label_values(&["kid"])
            .inc();
    }
    k.pending[outcome_index(e.outcome)] += 1;
}

/// Every path flushes explicitly ([`crate::ingest::Ingest::finish`], `/v1/verify`); this only
/// keeps a batch dropped early (a panic in a handler, a test) from losing what it counted.
impl Drop for Batch<'_> {
    fn drop(&mut self) {
        self.flush();
    }
}

fn record_into(s: &PairSeries, pending: &mut Pending, e: &Event<'_>, judge: &Judge) {
    pending.verifications[outcome_index(e.outcome)] += 1;
    let times = Times::of(e);
    if e.outcome == Outcome::Accepted {
        for (edge, used) in Edge::ALL.iter().zip(leeway_used(&times)) {
            if let Some(v) = used {
                s.observe_leeway_used(*edge, v);
            }
        }
    }
    if let Some(age) = e.age() {
        pending.age[outcome_index(e.outcome)].observe(s.age_bounds(), age);
    }
    if let Some(reason) = e.reason {
        s.reject(reason);
        if let Some(f) = lifetime_fraction(&times) {
            s.observe_lifetime_fraction(reason, f);
        }
        match reason {
            Reason::Expired => {
                if let Some(exp) = e.exp {
                    s.observe_expired_by((e.ts - exp).max(0.0));
                }
            }
            Reason::NotYetValid => {
                if let Some(t) = e.nbf.or(e.iat) {
                    s.observe_premature_by((t - e.ts).max(0.0));
                }
            }
            Reason::IssuedInFuture => {
                if let Some(t) = e.iat.or(e.nbf) {
                    s.observe_premature_by((t - e.ts).max(0.0));
                }
            }
            _ => {}
        }
    }
    // The lead uses only tokens whose times a verifier actually checked: accepted ones and
    // time-related rejections. A forged token's iat must not move it.
    let trusted = e.reason.is_none_or(Reason::is_time_related);
    if let (true, Some(age)) = (trusted, e.age()) {
        s.observe_lead(e.ts, age, judge.lead_slots, judge.lead_min_samples);
    }
    // After the lead: a time rejection's own age is part of the skew it may be explained by.
    // `lead()` is the exported lead: none from fewer than `lead_min_samples` tokens.
    if let Some(reason) = e.reason.filter(|r| r.is_time_related()) {
        if let Some(c) = cause(reason, &times, s.lead(), &judge.causes) {
            s.time_reject(reason, c);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::event::{parse_event, Outcome};

    fn recorder(settings: RecorderSettings) -> Recorder {
        Recorder::new(Arc::new(Metrics::new().unwrap()), &settings)
    }

    fn record(r: &Recorder, json: &str) {
        let e = parse_event(json.as_bytes(), 0.0).unwrap();
        r.batch(Transport::Http).record(&e);
    }

    fn value(r: &Recorder, needle: &str) -> f64 {
        let text = r.metrics().render().unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(needle).and_then(|v| v.trim().parse().ok()))
            .unwrap_or_else(|| panic!("{needle} not in\n{text}"))
    }

    /// `/v1/verify`'s way: a batch of one event each, every batch starting with the pairs the
    /// last one resolved. The metrics must be those of fresh batches, also across a reload
    /// that moves an issuer into `other` and a key id past the guard.
    #[test]
    fn a_reused_pair_cache_counts_as_fresh_batches_do_and_a_reload_drops_it() {
        let events = [
            r#"{"ts":1000,"source":"gw","iss":"idp","iat":999,"exp":1100,"leeway":5,"kid":"k1","outcome":"accepted"}"#,
            r#"{"ts":1001,"source":"gw","iss":"idp2","iat":900,"exp":1000,"leeway":5,"kid":"k2","outcome":"rejected","reason":"expired"}"#,
            r#"{"ts":1002,"source":"gw","iss":"idp3","iat":1001,"leeway":5,"outcome":"accepted"}"#,
            r#"{"ts":1003,"source":"gw","iat":1010,"nbf":1010,"leeway":5,"kid":"k1","outcome":"rejected","reason":"not_yet_valid"}"#,
            r#"{"ts":1004,"received":1003.5,"source":"other-gw","iss":"idp","iat":1003,"kid":"k3","outcome":"accepted"}"#,
        ];
        let settings = RecorderSettings {
            max_issuers: 2,
            max_kids: 2,
            lead_min_samples: 1,
            ..RecorderSettings::default()
        };
        let reload = RecorderSettings {
            issuer_allow: Some(vec!["idp2".into()]),
            kid_allow: Some(vec!["k2".into()]),
            ..settings.clone()
        };
        let (fresh, reused) = (recorder(settings.clone()), recorder(settings));
        let mut cache = None;
        for (i, json) in events.iter().cycle().take(40).enumerate() {
            if i == 20 {
                fresh.reconfigure(&reload);
                reused.reconfigure(&reload);
            }
            let e = parse_event(json.as_bytes(), 0.0).unwrap();
            let mut b = fresh.batch(Transport::Verify);
            b.record(&e);
            b.flush();
            let mut b = reused.batch_reusing(Transport::Verify, cache.take());
            b.record(&e);
            cache = Some(b.finish());
        }
        let series = |r: &Recorder| -> Vec<String> {
            let text = r.metrics().render().unwrap();
            text.lines()
                .filter(|l| l.starts_with("skew_"))
                .map(str::to_owned)
                .collect()
        };
        assert_eq!(series(&fresh), series(&reused));
        // The reload took effect: idp3 is past `max_issuers` from the start (4 accepted before
        // the reload), idp joins it in `other` after it (8 more); k1 goes to `other` too.
        let other =
            r#"skew_jwt_verifications_total{issuer="other",outcome="accepted",source="gw"}"#;
        assert_eq!(value(&reused, other), 12.0);
        assert_eq!(
            value(&reused, r#"skew_events_received_total{transport="verify"}"#),
            40.0
        );
        assert!(series(&reused).iter().any(|l| l.contains(r#"kid="other""#)));
    }

    #[test]
    fn records_counters_age_and_reasons() {
        // The lead from a single token (issue 13's `events.lead-min-samples` is 3 by default;
        // `lead_needs_min_samples` tests that).
        let r = recorder(RecorderSettings {
            lead_min_samples: 1,
            ..RecorderSettings::default()
        });
        record(
            &r,
            r#"{"ts":1000.5,"source":"api","iss":"idp","iat":1000,"outcome":"accepted"}"#,
        );
        record(
            &r,
            r#"{"ts":1000,"source":"api","iss":"idp","iat":1003,"nbf":1003,"outcome":"rejected","reason":"ImmatureSignatureError"}"#,
        );
        record(
            &r,
            r#"{"ts":2000,"source":"api","iss":"idp","exp":1998,"iat":1000,"outcome":"rejected","reason":"expired"}"#,
        );
        assert_eq!(
            value(
                &r,
                r#"skew_jwt_verifications_total{issuer="idp",outcome="accepted",source="api"}"#
            ),
            1.0
        );
        assert_eq!(
            value(
                &r,
                r#"skew_jwt_verifications_total{issuer="idp",outcome="rejected",source="api"}"#
            ),
            2.0
        );
        assert_eq!(
            value(
                &r,
                r#"skew_jwt_rejections_total{issuer="idp",reason="not_yet_valid",source="api"}"#
            ),
            1.0
        );
        assert_eq!(
            value(
                &r,
                r#"skew_jwt_rejections_total{issuer="idp",reason="expired",source="api"}"#
            ),
            1.0
        );
        assert_eq!(
            value(
                &r,
                "skew_jwt_premature_by_seconds_sum{issuer=\"idp\",source=\"api\"}"
            ),
            3.0
        );
        assert_eq!(
            value(
                &r,
                "skew_jwt_expired_by_seconds_sum{issuer=\"idp\",source=\"api\"}"
            ),
            2.0
        );
        assert_eq!(value(&r, "skew_jwt_age_seconds_bucket{issuer=\"idp\",outcome=\"rejected\",source=\"api\",le=\"-2\"}"), 1.0);
        assert_eq!(
            value(&r, "skew_events_received_total{transport=\"http\"}"),
            3.0
        );
        // Lead: the lowest age in the window ending at ts=2000 is... the 1000 s events fell out.
        assert_eq!(
            value(
                &r,
                "skew_jwt_issuer_lead_seconds{issuer=\"idp\",source=\"api\"}"
            ),
            -1000.0
        );
    }

    /// Issue 13, part 1: a rejection with a garbage token is counted as a rejection (issuer
    /// from `iss`, else `unknown`) and its token as unreadable; an accepted one is not recorded.
    #[test]
    fn rejections_with_unreadable_tokens_are_counted() {
        let r = recorder(RecorderSettings::default());
        record(
            &r,
            r#"{"source":"api","iss":"idp","token":"abc.def","outcome":"rejected","reason":"invalid token"}"#,
        );
        record(
            &r,
            r#"{"source":"api","token":"truncated-cookie","outcome":"rejected","reason":"jwt malformed"}"#,
        );
        assert_eq!(
            value(
                &r,
                r#"skew_events_token_unreadable_total{transport="http"}"#
            ),
            2.0
        );
        assert_eq!(
            value(
                &r,
                r#"skew_events_token_unreadable_total{transport="file"}"#
            ),
            0.0
        );
        assert_eq!(
            value(
                &r,
                r#"skew_jwt_verifications_total{issuer="idp",outcome="rejected",source="api"}"#
            ),
            1.0
        );
        assert_eq!(
            value(
                &r,
                r#"skew_jwt_rejections_total{issuer="unknown",reason="malformed",source="api"}"#
            ),
            1.0
        );
        assert_eq!(
            value(&r, r#"skew_events_received_total{transport="http"}"#),
            2.0
        );
        // The same token accepted is refused (by the parser, before the recorder).
        let e = parse_event(br#"{"token":"abc.def","outcome":"accepted"}"#, 0.0).unwrap_err();
        assert_eq!(e.kind, crate::event::InvalidKind::BadToken);
    }

    /// Issue 13: `received` gives the verification delay (per source; a negative one counted
    /// at 0) and the `in_transit` cause of a token that was still valid when it arrived.
    #[test]
    fn received_gives_the_delay_and_in_transit() {
        let r = recorder(RecorderSettings::default());
        record(
            &r,
            r#"{"ts":1000.5,"received":1000.25,"source":"api","iss":"idp","iat":900,"exp":1000.4,"outcome":"rejected","reason":"expired"}"#,
        );
        record(
            &r,
            r#"{"ts":1000,"received":1001,"source":"api","iss":"idp2","iat":999,"outcome":"accepted"}"#,
        );
        record(
            &r,
            r#"{"ts":1000,"source":"web","iss":"idp","iat":999,"outcome":"accepted"}"#,
        );
        let h = "skew_jwt_verification_delay_seconds";
        assert_eq!(value(&r, &format!("{h}_count{{source=\"api\"}}")), 2.0);
        assert_eq!(value(&r, &format!("{h}_sum{{source=\"api\"}}")), 0.25);
        assert_eq!(
            value(&r, &format!("{h}_bucket{{source=\"api\",le=\"0.001\"}}")),
            1.0,
            "the negative delay, at 0"
        );
        assert_eq!(
            value(&r, &format!("{h}_bucket{{source=\"api\",le=\"0.25\"}}")),
            2.0
        );
        let text = r.metrics().render().unwrap();
        assert!(
            !text.contains(&format!("{h}_count{{source=\"web\"}}")),
            "{text}"
        );
        assert_eq!(
            value(
                &r,
                r#"skew_jwt_time_rejections_total{cause="in_transit",issuer="idp",reason="expired",source="api"}"#
            ),
            1.0
        );
    }

    #[test]
    fn untrusted_rejections_do_not_move_the_lead() {
        // One trusted token: the lead from a single token (see `lead_needs_min_samples`).
        let r = recorder(RecorderSettings {
            lead_min_samples: 1,
            ..RecorderSettings::default()
        });
        record(
            &r,
            r#"{"ts":1000,"iss":"idp","iat":999,"outcome":"accepted"}"#,
        );
        record(
            &r,
            r#"{"ts":1000,"iss":"idp","iat":9999,"outcome":"rejected","reason":"invalid_signature"}"#,
        );
        assert_eq!(
            value(
                &r,
                "skew_jwt_issuer_lead_seconds{issuer=\"idp\",source=\"unknown\"}"
            ),
            -1.0
        );
    }

    /// Issue 13: no lead (and no `clock_skew` from one) until `lead_min_samples` tokens back it;
    /// `skew_jwt_issuer_lead_samples` counts them.
    #[test]
    fn lead_needs_min_samples() {
        let r = recorder(RecorderSettings::default());
        let lead = r#"skew_jwt_issuer_lead_seconds{issuer="idp",source="api"}"#;
        let samples = r#"skew_jwt_issuer_lead_samples{issuer="idp",source="api"}"#;
        record(
            &r,
            r#"{"ts":1000,"source":"api","iss":"idp","iat":1003,"outcome":"accepted"}"#,
        );
        // Issuer 3 s ahead, two tokens so far: no lead, so this nbf rejection is unexplained.
        record(
            &r,
            r#"{"ts":1001,"source":"api","iss":"idp","iat":1003.5,"nbf":1003.5,"outcome":"rejected","reason":"not_yet_valid"}"#,
        );
        assert_eq!(value(&r, samples), 2.0);
        assert!(!r.metrics().render().unwrap().contains(lead));
        let cause = |c: &str| {
            value(
                &r,
                &format!(
                    r#"skew_jwt_time_rejections_total{{cause="{c}",issuer="idp",reason="not_yet_valid",source="api"}}"#
                ),
            )
        };
        assert_eq!(cause("unexplained"), 1.0);
        // The third token: the lead is out, and the same rejection is now clock_skew.
        record(
            &r,
            r#"{"ts":1002,"source":"api","iss":"idp","iat":1004.5,"nbf":1004.5,"outcome":"rejected","reason":"not_yet_valid"}"#,
        );
        assert_eq!(value(&r, samples), 3.0);
        assert_eq!(value(&r, lead), 3.0);
        assert_eq!(cause("clock_skew"), 1.0);
        // The window moves on (5 minutes later): one token behind it, the lead is withdrawn.
        record(
            &r,
            r#"{"ts":1400,"source":"api","iss":"idp","iat":1399,"outcome":"accepted"}"#,
        );
        assert_eq!(value(&r, samples), 1.0);
        assert!(!r.metrics().render().unwrap().contains(lead));
    }

    /// Issue 13: leeway used by accepted tokens, the lifetime fraction of rejections, the
    /// verifier's reported leeway and verifications by key id (bounded, `none` when absent).
    #[test]
    fn leeway_lifetime_and_key_ids() {
        let r = recorder(RecorderSettings {
            max_kids: 1,
            ..RecorderSettings::default()
        });
        record(
            &r,
            r#"{"ts":1002,"source":"api","iss":"idp","iat":900,"exp":1000,"leeway":5,"kid":"k1","outcome":"accepted"}"#,
        );
        record(
            &r,
            r#"{"ts":1000,"source":"api","iss":"idp","iat":1000.25,"nbf":1000.5,"exp":1100,"leeway":0,"kid":"k2","outcome":"accepted"}"#,
        );
        record(
            &r,
            r#"{"ts":1090,"source":"api","iss":"idp","iat":1000,"exp":1100,"outcome":"rejected","reason":"revoked"}"#,
        );
        let used = |edge: &str| {
            value(
                &r,
                &format!(
                    r#"skew_jwt_leeway_used_seconds_sum{{edge="{edge}",issuer="idp",source="api"}}"#
                ),
            )
        };
        assert_eq!((used("exp"), used("iat"), used("nbf")), (2.0, 0.25, 0.5));
        assert_eq!(
            value(
                &r,
                r#"skew_jwt_leeway_used_seconds_bucket{edge="exp",issuer="idp",source="api",le="2"}"#
            ),
            1.0
        );
        assert_eq!(
            value(
                &r,
                r#"skew_jwt_rejection_lifetime_fraction_sum{issuer="idp",reason="revoked",source="api"}"#
            ),
            0.9
        );
        assert_eq!(
            value(&r, r#"skew_jwt_verifier_leeway_seconds{source="api"}"#),
            0.0,
            "the last reported"
        );
        let kid = |k: &str, o: &str| {
            value(
                &r,
                &format!(
                    r#"skew_jwt_key_verifications_total{{kid="{k}",outcome="{o}",source="api"}}"#
                ),
            )
        };
        assert_eq!(kid("k1", "accepted"), 1.0);
        assert_eq!(kid("other", "accepted"), 1.0, "k2 is over max-kids");
        assert_eq!(kid("none", "rejected"), 1.0);
        assert_eq!(value(&r, r#"skew_label_overflow_total{label="kid"}"#), 1.0);
    }

    #[test]
    fn overflowing_labels_become_other_and_are_counted() {
        let r = recorder(RecorderSettings {
            max_issuers: 1,
            ..RecorderSettings::default()
        });
        record(&r, r#"{"iss":"a","outcome":"accepted"}"#);
        record(&r, r#"{"iss":"b","outcome":"accepted"}"#);
        record(&r, r#"{"iss":"c","outcome":"accepted"}"#);
        assert_eq!(
            value(&r, "skew_label_overflow_total{label=\"issuer\"}"),
            2.0
        );
        assert_eq!(
            value(&r, "skew_jwt_verifications_total{issuer=\"other\",outcome=\"accepted\",source=\"unknown\"}"),
            2.0
        );
    }

    /// A reload's new limits apply from then on; values that already had series keep them,
    /// and an allow-list replaces the first-N rule.
    #[test]
    fn reconfigure_keeps_existing_series_and_applies_new_lists() {
        let r = recorder(RecorderSettings {
            max_issuers: 1,
            ..RecorderSettings::default()
        });
        record(&r, r#"{"iss":"a","outcome":"accepted"}"#);
        record(&r, r#"{"iss":"b","outcome":"accepted"}"#);
        // Room for one more: `a` keeps its series, `b` (refused before) now gets one.
        r.reconfigure(&RecorderSettings {
            max_issuers: 2,
            ..RecorderSettings::default()
        });
        record(&r, r#"{"iss":"b","outcome":"accepted"}"#);
        record(&r, r#"{"iss":"a","outcome":"accepted"}"#);
        record(&r, r#"{"iss":"c","outcome":"accepted"}"#);
        let v = |iss: &str| {
            value(
                &r,
                &format!("skew_jwt_verifications_total{{issuer=\"{iss}\",outcome=\"accepted\",source=\"unknown\"}}"),
            )
        };
        assert_eq!((v("a"), v("b"), v("other")), (2.0, 1.0, 2.0));
        // An allow-list: only `c` from now on; `a` and `b` keep their counts.
        r.reconfigure(&RecorderSettings {
            issuer_allow: Some(vec!["c".into()]),
            ..RecorderSettings::default()
        });
        record(&r, r#"{"iss":"a","outcome":"accepted"}"#);
        record(&r, r#"{"iss":"c","outcome":"accepted"}"#);
        assert_eq!((v("a"), v("b"), v("c"), v("other")), (2.0, 1.0, 1.0, 3.0));
    }

    /// The recording logic as it was before the per-pair families left the `prometheus` crate
    /// (issue 6), onto the crate's own vectors: the reference for the tests below.
    struct OldRecorder {
        r: crate::metrics::reference::Reference,
        sources: LabelGuard,
        issuers: LabelGuard,
        windows: HashMap<(String, String), LeadWindow>,
        leads: HashMap<(String, String), f64>,
        causes: CauseSettings,
        slots: usize,
        kids: LabelGuard,
        min_samples: u64,
        /// Issue 13's families labelled by source, registered in `r.registry` as `Metrics`
        /// registers them.
        delay: prometheus::HistogramVec,
        leeway: prometheus::GaugeVec,
        key_verifications: prometheus::IntCounterVec,
    }

    impl OldRecorder {
        fn new(settings: &RecorderSettings) -> Self {
            use crate::metrics::verdict_names::*;
            use prometheus::{GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, Opts};
            let r = crate::metrics::reference::Reference::new(
                crate::metrics::DEFAULT_AGE_BUCKETS,
                crate::metrics::EDGE_BUCKETS,
            );
            let delay = HistogramVec::new(
                HistogramOpts::new(DELAY.0, DELAY.1)
                    .buckets(crate::metrics::DELAY_BUCKETS.to_vec()),
                &["source"],
            )
            .unwrap();
            let leeway =
                GaugeVec::new(Opts::new(VERIFIER_LEEWAY.0, VERIFIER_LEEWAY.1), &["source"])
                    .unwrap();
            let key_verifications = IntCounterVec::new(
                Opts::new(KEY_VERIFICATIONS.0, KEY_VERIFICATIONS.1),
                &["source", "kid", "outcome"],
            )
            .unwrap();
            r.registry.register(Box::new(delay.clone())).unwrap();
            r.registry.register(Box::new(leeway.clone())).unwrap();
            r.registry
                .register(Box::new(key_verifications.clone()))
                .unwrap();
            OldRecorder {
                r,
                delay,
                leeway,
                key_verifications,
                kids: LabelGuard::new(settings.kid_allow.clone(), settings.max_kids),
                min_samples: settings.lead_min_samples,
                sources: LabelGuard::new(settings.source_allow.clone(), settings.max_sources),
                issuers: LabelGuard::new(settings.issuer_allow.clone(), settings.max_issuers),
                windows: HashMap::new(),
                leads: HashMap::new(),
                causes: settings.causes,
                slots: (settings.lead_window.as_secs() / LEAD_SLOT.as_secs()).max(1) as usize,
            }
        }

        fn record(&mut self, e: &Event<'_>) {
            let s = self.sources.bound(e.source.as_deref());
            let i = self.issuers.bound(e.issuer.as_deref());
            let pair = [s.as_str(), i.as_str()];
            let r = &self.r;
            r.touch(pair[0], pair[1]);
            r.verifications
                .with_label_values(&[pair[0], pair[1], e.outcome.as_str()])
                .inc();
            // Issue 13: delay, leeway, key id, leeway used, lifetime fraction.
            if let Some(received) = e.received {
                self.delay
                    .with_label_values(&[pair[0]])
                    .observe((e.ts - received).max(0.0));
            }
            if let Some(l) = e.leeway {
                self.leeway.with_label_values(&[pair[0]]).set(l);
            }
            let kid = e.kid.as_deref().map(|k| self.kids.bound(Some(k)));
            let kid = kid.as_ref().map_or(NO_KID, Bounded::as_str);
            for o in ["accepted", "rejected"] {
                self.key_verifications.with_label_values(&[pair[0], kid, o]);
            }
            self.key_verifications
                .with_label_values(&[pair[0], kid, e.outcome.as_str()])
                .inc();
            let times = Times::of(e);
            if e.outcome == Outcome::Accepted {
                for (edge, used) in Edge::ALL.iter().zip(leeway_used(&times)) {
                    if let Some(v) = used {
                        r.leeway_used
                            .with_label_values(&[pair[0], pair[1], edge.as_str()])
                            .observe(v);
                    }
                }
            }
            if let (Some(reason), Some(f)) = (e.reason, lifetime_fraction(&times)) {
                r.lifetime
                    .with_label_values(&[pair[0], pair[1], reason.as_str()])
                    .observe(f);
            }
            if let Some(age) = e.age() {
                r.age
                    .with_label_values(&[pair[0], pair[1], e.outcome.as_str()])
                    .observe(age);
            }
            if let Some(reason) = e.reason {
                r.rejections
                    .with_label_values(&[pair[0], pair[1], reason.as_str()])
                    .inc();
                match reason {
                    Reason::Expired => {
                        if let Some(exp) = e.exp {
                            r.expired_by
                                .with_label_values(&pair)
                                .observe((e.ts - exp).max(0.0));
                        }
                    }
                    Reason::NotYetValid => {
                        if let Some(t) = e.nbf.or(e.iat) {
                            r.premature_by
                                .with_label_values(&pair)
                                .observe((t - e.ts).max(0.0));
                        }
                    }
                    Reason::IssuedInFuture => {
                        if let Some(t) = e.iat.or(e.nbf) {
                            r.premature_by
                                .with_label_values(&pair)
                                .observe((t - e.ts).max(0.0));
                        }
                    }
                    _ => {}
                }
            }
            let trusted = e.reason.is_none_or(Reason::is_time_related);
            if let (true, Some(age)) = (trusted, e.age()) {
                let slots = self.slots;
                let w = self
                    .windows
                    .entry((pair[0].to_owned(), pair[1].to_owned()))
                    .or_insert_with(|| LeadWindow::new(slots, LEAD_SLOT.as_secs_f64()));
                if let Some(lead) = w.observe(e.ts, age) {
                    let key = (pair[0].to_owned(), pair[1].to_owned());
                    r.lead_samples
                        .with_label_values(&pair)
                        .set(w.samples() as f64);
                    if w.samples() >= self.min_samples {
                        r.issuer_lead.with_label_values(&pair).set(lead);
                        self.leads.insert(key, lead);
                    } else {
                        let _ = r.issuer_lead.remove_label_values(&pair);
                        self.leads.remove(&key);
                    }
                }
            }
            // Issue 13: the cause of a time rejection, from the lead exported after this event.
            if let Some(reason) = e.reason.filter(|r| r.is_time_related()) {
                let lead = self.leads.get(&(pair[0].to_owned(), pair[1].to_owned()));
                let times = Times::of(e);
                if let Some(c) = cause(reason, &times, lead.copied(), &self.causes) {
                    r.time_rejections
                        .with_label_values(&[pair[0], pair[1], reason.as_str(), c.as_str()])
                        .inc();
                }
            }
        }
    }

    /// The `skew_jwt_*` lines of an exposition (the per-pair families are contiguous).
    fn jwt_lines(text: &str) -> String {
        text.lines()
            .filter(|l| {
                l.starts_with("skew_jwt_")
                    || l.starts_with("# HELP skew_jwt_")
                    || l.starts_with("# TYPE skew_jwt_")
            })
            .map(|l| format!("{l}\n"))
            .collect()
    }

    /// An exposition without the process collector's lines, which change between two reads.
    fn without_process(text: &str) -> String {
        text.lines()
            .filter(|l| {
                !(l.starts_with("process_")
                    || l.starts_with("# HELP process_")
                    || l.starts_with("# TYPE process_"))
            })
            .map(|l| format!("{l}\n"))
            .collect()
    }

    fn event_strategy() -> impl proptest::strategy::Strategy<Value = Event<'static>> {
        use proptest::prelude::*;
        let label = prop::option::of(prop::sample::select(vec![
            "api", "web", "batch", "other", "a\"q", "idp-1", "idp-2",
        ]));
        let offset = prop::option::of(prop_oneof![
            -400.0f64..400.0,
            prop::sample::select(vec![-3600.5, -5.0, -0.1, 0.0, 0.25, 5.0, 7200.0]),
        ]);
        let reason = prop::option::of(prop::sample::select(Reason::ALL.to_vec()));
        let kid = prop::option::of(prop::sample::select(vec!["k1", "k2", "k3", "none"]));
        let extra = (
            prop::option::of(prop_oneof![-1.0f64..5.0, Just(0.0)]),
            prop::option::of(prop::sample::select(vec![0.0, 1.0, 60.0])),
            kid,
        );
        (
            1_700_000_000.0f64..1_700_000_900.0,
            label.clone(),
            label,
            offset.clone(),
            offset.clone(),
            offset,
            reason,
            extra,
        )
            .prop_map(
                |(ts, source, issuer, iat, nbf, exp, reason, (delay, leeway, kid))| Event {
                    ts,
                    source: source.map(std::borrow::Cow::Borrowed),
                    issuer: issuer.map(std::borrow::Cow::Borrowed),
                    iat: iat.map(|d| ts - d),
                    nbf: nbf.map(|d| ts + d),
                    exp: exp.map(|d| ts - d),
                    outcome: if reason.is_some() {
                        Outcome::Rejected
                    } else {
                        Outcome::Accepted
                    },
                    reason,
                    token_unreadable: false,
                    received: delay.map(|d| ts - d),
                    leeway,
                    kid: kid.map(std::borrow::Cow::Borrowed),
                },
            )
    }

    proptest::proptest! {
        /// Random event streams, through the real recorder and through the old path: the
        /// per-pair families render byte for byte alike, the whole body equals what the crate's
        /// encoder makes of `Metrics::gather()`, and `analyze`'s view (gathered structs) agrees.
        #[test]
        fn recorded_events_render_as_before(
            events in proptest::collection::vec(event_strategy(), 0..80),
            batches in 1usize..4,
        ) {
            let settings = RecorderSettings {
                max_sources: 2,
                max_issuers: 3,
                max_kids: 2,
                ..RecorderSettings::default()
            };
            let r = recorder(settings.clone());
            let mut old = OldRecorder::new(&settings);
            let per_batch = events.len() / batches + 1;
            for chunk in events.chunks(per_batch) {
                let mut b = r.batch(Transport::File);
                for e in chunk {
                    b.record(e);
                    old.record(e);
                }
            }
            let body = r.metrics().render().unwrap();
            proptest::prop_assert_eq!(jwt_lines(&body), old.r.text());
            let gathered = prometheus::TextEncoder::new()
                .encode_to_string(&r.metrics().gather())
                .unwrap();
            proptest::prop_assert_eq!(without_process(&body), without_process(&gathered));
            let jwt_families: Vec<_> = r
                .metrics()
                .gather()
                .into_iter()
                .filter(|f| f.name().starts_with("skew_jwt_"))
                .collect();
            proptest::prop_assert_eq!(jwt_families, old.r.registry.gather());
        }
    }

    #[test]
    fn the_jwt_names_stay_reserved_in_the_registry() {
        let m = Metrics::new().unwrap();
        let dup = prometheus::IntCounter::new("skew_jwt_verifications_total", "dup").unwrap();
        assert!(m.registry().register(Box::new(dup)).is_err());
        let other = prometheus::IntCounter::new("skew_test_new_total", "new family").unwrap();
        m.registry().register(Box::new(other.clone())).unwrap();
        other.inc();
        assert!(m.render().unwrap().contains("\nskew_test_new_total 1\n"));
    }
}
