//! The verified-token cache of `/v1/verify` (issue 18): a gateway sees the same token many times
//! (a client reuses it for its whole lifetime), and an RS256 signature check costs tens of
//! microseconds where everything else of a request costs a few. So a token whose signature
//! verified and that was allowed is remembered, and the next request with the same token skips
//! the header decoding, the key selection and the signature check — and nothing else: its time
//! claims (`exp`, `nbf`, `iat`, kept in the entry as the checks read them) are checked again
//! against that request's `now` by [`Verifier`](super::Verifier), so a hit can still be
//! `expired`. Its claims passed the verifier's policy (required claims, `iss`, `aud`) when it
//! entered; a cache belongs to one verifier, whose policy never changes (a reload builds a new
//! verifier with a new cache), so that answer stands for the entry's life.
//!
//! What it holds, per token: the SHA-256 of the whole compact token (the token itself is a
//! credential and is never stored), the verified claims (`/v1/verify` keeps only those its
//! claim headers read: [`Verifier::keeping_claims`](super::Verifier::keeping_claims)), the
//! token's times for the event, the
//! key that verified it and the key set generation that key belonged to. Only allowed tokens
//! enter (a flood of forged or refused tokens never does), and an entry never outlives the
//! token's `exp` + leeway: a hit past it is `expired` and removes it, and a sweep at most once
//! a minute (on a miss, the path that already pays for a signature check) removes the rest.
//!
//! Bounds: at most `verify.cache-size` entries, and at most that many times [`ENTRY_BUDGET`]
//! bytes (estimated: the claims' heap plus the entry and its slot). Both are one weight:
//! an entry weighs its size in [`ENTRY_BUDGET`]s, rounded up and at least 1, and the cache's
//! weight capacity is the entry bound, so neither bound can be passed. The capacity is a
//! multiple of the shard count (quick_cache gives each shard `ceil(capacity / shards)`), so the
//! shards together never hold more than the configured bound.
//!
//! Which entries go: quick_cache's policy (CLOCK-Pro-like), not least-recently-used. A new
//! entry goes to the hot section (97 % of the capacity) while that has room, as the first
//! entries of an empty cache do, and to the cold rest otherwise; a token seen only once leaves
//! from the cold rest without displacing anything hot. A token used again while cold, or sent
//! again soon after it left (quick_cache remembers recent keys), moves to the hot section in
//! place of a hot entry not used since. So after a start or a reload, under a flood of one-time
//! tokens the first ~97 % stay until their `exp` + leeway (the sweep) and the flood churns
//! through the rest; with tokens reused, as a gateway sees them, the hot section turns over to
//! them. `benches/verify.sh` sends its distinct tokens again in a cycle that skips the first.
//!
//! Keys and policy: a [`Verifier`](super::Verifier) has one policy for its life and a reload
//! builds a new one (with a new, empty cache). Every [`KeySet`](super::keys::KeySet) carries a
//! generation number; an entry is used only under the generation it was verified with, and
//! the first lookup under a newer generation (a rotation, a reload of a key file or the JWKS)
//! drops the whole cache, so a revoked key's tokens fail on the next request.
//!
//! Concurrency: quick_cache is sharded, with a read lock per shard on a hit; the generation is
//! an atomic, and the one thread that moves it forward clears the cache. A verification that
//! loaded the previous key set before a swap neither uses nor inserts entries of the new one.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use prometheus::{IntCounter, IntGauge};
use quick_cache::sync::Cache;
use quick_cache::{DefaultHashBuilder, OptionsBuilder, Weighter};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::keys::Key;
use super::{TimeClaims, TokenTimes};

/// `verify.cache-size` when not set.
pub const DEFAULT_SIZE: usize = 10_000;
/// The largest `verify.cache-size` accepted.
pub const MAX_SIZE: usize = 1_000_000;
/// The bytes one entry may take before it counts as two: the cache holds at most
/// `verify.cache-size` × this many bytes (20 MiB by default).
pub const ENTRY_BUDGET: usize = 2048;
/// How often expired entries are swept out (at most; only on a miss).
const SWEEP_EVERY: u64 = 60;

/// The SHA-256 of a whole compact token: what the cache is keyed by.
pub type TokenHash = [u8; 32];

pub fn token_hash(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

/// One verified, allowed token.
#[derive(Debug)]
pub struct Entry {
    /// The [`KeySet`](super::keys::KeySet) generation the token was verified under.
    pub generation: u64,
    /// The key that verified its signature.
    pub key: Arc<Key>,
    /// The token header's `kid` (a hit records it without reading the header again).
    pub kid: Option<Arc<str>>,
    pub claims: Arc<Map<String, Value>>,
    pub times: TokenTimes,
    /// `exp`, `nbf` and `iat` as the time checks read them: a hit checks them against its
    /// `now` from here, without walking the claims (cold memory after a thousand other tokens).
    pub time: TimeClaims,
    /// `exp` + leeway: from the next second on the token is expired and the entry dead.
    /// `None`: the token has no `exp`.
    pub deadline: Option<u64>,
    /// Its size in [`ENTRY_BUDGET`]s (at least 1).
    weight: u64,
}

impl Entry {
    pub fn new(
        generation: u64,
        key: Arc<Key>,
        kid: Option<Arc<str>>,
        claims: Arc<Map<String, Value>>,
        times: TokenTimes,
        (time, leeway): (TimeClaims, u64),
    ) -> Self {
        let bytes = entry_bytes(&claims, &times) + kid.as_ref().map_or(0, |k| k.len() + 16);
        Entry {
            generation,
            key,
            kid,
            claims,
            times,
            time,
            deadline: time.exp.map(|exp| exp.saturating_add(leeway)),
            weight: bytes.div_ceil(ENTRY_BUDGET).max(1) as u64,
        }
    }

    /// Dead at `now` (Unix seconds, truncated as the time check truncates it).
    fn dead(&self, now: f64) -> bool {
        self.deadline.is_some_and(|d| (now as u64) > d)
    }
}

/// An estimate of the memory an entry holds: the claims' heap (a `BTreeMap` node share per
/// member), the issuer label, the entry with its `Arc`s, and its slot in the cache.
fn entry_bytes(claims: &Map<String, Value>, times: &TokenTimes) -> usize {
    const FIXED: usize =
        std::mem::size_of::<Entry>() + std::mem::size_of::<Map<String, Value>>() + 32 + 96;
    FIXED + map_bytes(claims) + times.issuer.as_ref().map_or(0, |i| i.len() + 16)
}

fn map_bytes(m: &Map<String, Value>) -> usize {
    // A B-tree node holds up to 11 keys and values; count each member's share and a little.
    const MEMBER: usize = std::mem::size_of::<String>() + std::mem::size_of::<Value>() + 16;
    m.iter()
        .map(|(k, v)| MEMBER + k.capacity() + value_bytes(v))
        .sum()
}

fn value_bytes(v: &Value) -> usize {
    match v {
        Value::String(s) => s.capacity(),
        Value::Array(a) => {
            a.capacity() * std::mem::size_of::<Value>() + a.iter().map(value_bytes).sum::<usize>()
        }
        Value::Object(m) => map_bytes(m),
        // Numbers (also arbitrary-precision ones are stored inline here), booleans, null.
        _ => 0,
    }
}

#[derive(Debug, Clone)]
struct ByBudget;

impl Weighter<TokenHash, Arc<Entry>> for ByBudget {
    fn weight(&self, _: &TokenHash, e: &Arc<Entry>) -> u64 {
        e.weight
    }
}

/// `skew_verify_cache_requests_total{result}` and `skew_verify_cache_entries`.
#[derive(Clone)]
pub struct CacheMetrics {
    pub hit: IntCounter,
    pub miss: IntCounter,
    pub entries: IntGauge,
}

/// The cache; see the module documentation.
pub struct TokenCache {
    entries: Cache<TokenHash, Arc<Entry>, ByBudget>,
    /// The newest key set generation seen; entries of others are never used.
    generation: AtomicU64,
    /// The next sweep of dead entries, Unix seconds.
    next_sweep: AtomicU64,
    metrics: Option<CacheMetrics>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("len", &self.entries.len())
            .field("capacity", &self.entries.capacity())
            .finish_non_exhaustive()
    }
}

impl TokenCache {
    /// A cache of at most `size` entries (and `size` × [`ENTRY_BUDGET`] bytes); `None` for 0.
    pub fn new(size: usize, metrics: Option<CacheMetrics>) -> Option<Self> {
        // Shards of at least 32 entries each, a power of two, at most 16; the capacity a
        // multiple of their number, so their capacities add up to at most `size`.
        let shards = (size / 32).clamp(1, 16);
        let shards = 1usize << shards.ilog2();
        let capacity = size - size % shards;
        if capacity == 0 {
            return None;
        }
        let options = OptionsBuilder::new()
            .estimated_items_capacity(capacity)
            .weight_capacity(capacity as u64)
            .shards(shards)
            .build()
            .ok()?;
        let entries = Cache::with_options(
            options,
            ByBudget,
            DefaultHashBuilder::default(),
            Default::default(),
        );
        if let Some(m) = &metrics {
            m.entries.set(0);
        }
        Some(TokenCache {
            entries,
            generation: AtomicU64::new(0),
            next_sweep: AtomicU64::new(0),
            metrics,
        })
    }

    /// The entry for `hash` verified under key set `generation`, counting a hit or a miss.
    /// A newer generation than any seen before drops every entry first.
    pub fn lookup(&self, hash: &TokenHash, generation: u64) -> Option<Arc<Entry>> {
        self.advance(generation);
        let found = self
            .entries
            .get(hash)
            .filter(|e| e.generation == generation);
        if let Some(m) = &self.metrics {
            if found.is_some() { &m.hit } else { &m.miss }.inc();
        }
        found
    }

    /// Remembers an allowed token (on a miss). Nothing is stored when `entry` was verified
    /// under a key set older than the newest seen, or is larger than the whole cache.
    pub fn insert(&self, hash: TokenHash, entry: Entry, now: f64) {
        self.advance(entry.generation);
        if entry.generation != self.generation.load(Ordering::Acquire) {
            return;
        }
        self.sweep(now);
        if entry.weight <= self.entries.shard_capacity() {
            self.entries.insert(hash, Arc::new(entry));
        }
        self.update_gauge();
    }

    /// Forgets one token (a hit found it expired).
    pub fn remove(&self, hash: &TokenHash) {
        if self.entries.remove(hash).is_some() {
            self.update_gauge();
        }
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The estimated bytes held, in [`ENTRY_BUDGET`]s.
    pub fn weight(&self) -> u64 {
        self.entries.weight()
    }

    /// The entry bound (the configured size, rounded down to a multiple of the shard count).
    pub fn capacity(&self) -> u64 {
        self.entries.capacity()
    }

    /// Moves to a newer key set generation: the one thread that does clears the cache.
    fn advance(&self, generation: u64) {
        let mut seen = self.generation.load(Ordering::Acquire);
        while generation > seen {
            match self.generation.compare_exchange(
                seen,
                generation,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    self.entries.clear();
                    self.update_gauge();
                    return;
                }
                Err(now_seen) => seen = now_seen,
            }
        }
    }

    /// Removes dead entries, at most once per [`SWEEP_EVERY`] seconds.
    fn sweep(&self, now: f64) {
        let secs = now as u64;
        let due = self.next_sweep.load(Ordering::Relaxed);
        if secs < due
            || self
                .next_sweep
                .compare_exchange(
                    due,
                    secs + SWEEP_EVERY,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_err()
        {
            return;
        }
        self.entries.retain(|_, e| !e.dead(now));
    }

    fn update_gauge(&self) {
        if let Some(m) = &self.metrics {
            m.entries.set(self.entries.len() as i64);
        }
    }
}
