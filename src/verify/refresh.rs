//! Keeping the keys current: the I/O shell around [`super::keys`].
//!
//! - Key files (PEM, HMAC secrets, the JWKS file) are watched with `notify` on their
//!   directories (rename-rotation shows up there), plus a poll every `key-poll-interval` as the
//!   safety net inotify needs (queue overflow, network filesystems). A file is re-parsed only
//!   when its bytes changed; a file that cannot be read or parsed keeps its previous keys, is
//!   logged once (until it changes again) and counted in `skew_verify_key_reloads_total`.
//! - A JWKS keeps its usable keys; each key it skipped is logged with its position, `kid` and
//!   reason once per load ([`report_skipped`]; for the URL, when the set of skipped keys
//!   changes), and each refused one counted as an error.
//! - The JWKS URL is fetched at start, every `jwks-refresh`, and when a token names an unknown
//!   `kid`, at most once per `jwks-min-refetch-interval` (requests in between are coalesced into
//!   one fetch at the end of the interval). `If-None-Match` is sent with the last `ETag`. A
//!   failed fetch keeps the previous keys, is logged when the error changes, and is counted.
//!
//! Both tasks stop on the cancellation token.

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::config::{FileSource, UrlSource};
use super::keys::{self, fingerprint, Key, KeyStore, SkipKind, Skipped, MAX_KEY_DOCUMENT};

/// How long a burst of file events is allowed to settle before the files are read.
const SETTLE: Duration = Duration::from_millis(50);

/// Logs the keys a load of the JWKS at `jwks` skipped, one line each (a warning for a refused
/// key, info for one not meant to verify here), and counts the refused ones as errors.
pub fn report_skipped(jwks: &dyn std::fmt::Display, skipped: &[Skipped], store: &KeyStore) {
    for s in skipped {
        match s.kind {
            SkipKind::Refused => {
                tracing::warn!(jwks = %jwks, key = %s, "verification key refused");
            }
            SkipKind::Ignored => {
                tracing::info!(jwks = %jwks, key = %s, "verification key skipped");
            }
        }
    }
    store.count_refused(skipped);
}

/// Spawns the file watcher (when there are key files) and the JWKS URL task (when a URL is
/// configured). Source `i` of the store is `files[i]`; the URL is the last source.
pub fn spawn(
    files: Vec<FileSource>,
    url: Option<UrlSource>,
    poll: Duration,
    store: Arc<KeyStore>,
    cancel: CancellationToken,
    tracker: &TaskTracker,
) {
    let url_index = files.len();
    if !files.is_empty() {
        tracker.spawn(watch_files(files, poll, store.clone(), cancel.clone()));
    }
    if let Some(url) = url {
        tracker.spawn(fetch_jwks(url, url_index, store, cancel));
    }
}

/// What one file looked like at the last look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    Bytes(u64),
    Unreadable,
}

enum Wake {
    Stop,
    Changed,
    Poll,
}

async fn watch_files(
    files: Vec<FileSource>,
    poll: Duration,
    store: Arc<KeyStore>,
    cancel: CancellationToken,
) {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<()>(1);
    let names: HashSet<OsString> = files
        .iter()
        .filter_map(|f| f.spec.path.file_name().map(OsString::from))
        .collect();
    let dirs: HashSet<PathBuf> = files.iter().map(|f| parent(&f.spec.path)).collect();
    // Kept alive for the life of the task; dropping it stops the watch.
    let _watcher = match notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let relevant = match &res {
            Ok(ev) => ev
                .paths
                .iter()
                .any(|p| p.file_name().is_some_and(|n| names.contains(n))),
            // An overflow or a watch error: look at every file.
            Err(_) => true,
        };
        if relevant {
            let _ = tx.try_send(());
        }
    }) {
        Ok(mut w) => {
            use notify::Watcher as _;
            for d in &dirs {
                if let Err(e) = w.watch(d, notify::RecursiveMode::NonRecursive) {
                    tracing::warn!(dir = %d.display(), error = %e, "cannot watch key directory; polling only");
                }
            }
            Some(w)
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch key files; polling only");
            None
        }
    };
    let mut seen: Vec<Seen> = files.iter().map(|f| Seen::Bytes(f.fingerprint)).collect();
    let mut tick = tokio::time::interval(poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        let wake = tokio::select! {
            _ = cancel.cancelled() => Wake::Stop,
            Some(()) = rx.recv() => Wake::Changed,
            _ = tick.tick() => Wake::Poll,
        };
        match wake {
            Wake::Stop => break,
            Wake::Changed => {
                tokio::time::sleep(SETTLE).await;
                while rx.try_recv().is_ok() {}
                check_files(&files, &mut seen, &store).await;
            }
            Wake::Poll => check_files(&files, &mut seen, &store).await,
        }
    }
}

fn parent(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Re-reads every file; swaps in the keys of those whose bytes changed and parse.
async fn check_files(files: &[FileSource], seen: &mut [Seen], store: &KeyStore) {
    for (i, f) in files.iter().enumerate() {
        let path = &f.spec.path;
        let now = match read_limited(path).await {
            Ok(bytes) => (Seen::Bytes(fingerprint(&bytes)), Ok(bytes)),
            Err(e) => (Seen::Unreadable, Err(e)),
        };
        if now.0 == seen[i] {
            continue;
        }
        seen[i] = now.0;
        let parsed = now.1.and_then(|bytes| keys::load_file(&f.spec, &bytes));
        match parsed {
            Ok(loaded) => {
                tracing::info!(file = %path.display(), keys = loaded.keys.len(), "verification keys reloaded");
                store.replace(i, loaded.keys.into_iter().map(Arc::new).collect());
                store.count_reload(true);
                report_skipped(&path.display(), &loaded.skipped, store);
            }
            Err(e) => {
                // Once per distinct content: the next look sees the same bytes and skips.
                tracing::warn!(file = %path.display(), error = %e, "cannot reload verification keys; keeping the previous ones");
                store.count_reload(false);
            }
        }
    }
}

/// Reads a changed key file off the runtime's threads: regular files only (a FIFO would block
/// the reader), at most `MAX_KEY_DOCUMENT` bytes.
async fn read_limited(path: &Path) -> Result<Vec<u8>, String> {
    let owned = path.to_owned();
    let bytes = tokio::task::spawn_blocking(move || crate::config::base::read_config_file(&owned))
        .await
        .map_err(|e| format!("cannot read: {e}"))?
        .map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() > MAX_KEY_DOCUMENT {
        return Err(format!("larger than {MAX_KEY_DOCUMENT} bytes"));
    }
    Ok(bytes)
}

enum Tick {
    Stop,
    Due,
    Refetch,
}

async fn fetch_jwks(url: UrlSource, index: usize, store: Arc<KeyStore>, cancel: CancellationToken) {
    let client = match reqwest::Client::builder()
        .timeout(url.timeout)
        .user_agent(concat!("skew-exporter/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the JWKS HTTP client; verification keys from the URL are unavailable");
            return;
        }
    };
    let mut state = FetchState::default();
    let mut next = Instant::now();
    let mut last: Option<Instant> = None;
    loop {
        let tick = tokio::select! {
            _ = cancel.cancelled() => Tick::Stop,
            _ = tokio::time::sleep_until(next) => Tick::Due,
            _ = store.refetch_requested() => Tick::Refetch,
        };
        let now = Instant::now();
        match tick {
            Tick::Stop => break,
            Tick::Refetch => {
                // Rate limit: never two fetches closer than min_refetch; a request inside the
                // interval moves the next fetch to its end (coalescing any others).
                let earliest = last.map_or(now, |l| l + url.min_refetch);
                next = next.min(earliest);
                continue;
            }
            Tick::Due => {}
        }
        last = Some(now);
        next = now + url.refresh;
        let result = tokio::select! {
            _ = cancel.cancelled() => break,
            r = fetch_once(&client, &url.url, state.etag.as_deref()) => r,
        };
        match result {
            Ok(Fetched::NotModified) => {
                state.recovered(&url.url);
                store.count_reload(true);
            }
            Ok(Fetched::Keys {
                keys,
                skipped,
                etag,
            }) => {
                state.recovered(&url.url);
                state.etag = etag;
                if state.key_count != Some(keys.len()) {
                    tracing::info!(url = %url.url, keys = keys.len(), skipped = skipped.len(), "JWKS fetched");
                }
                state.key_count = Some(keys.len());
                store.replace(index, keys);
                store.count_reload(true);
                // Once per change: the same document fetched again says nothing new.
                if state.skipped != skipped {
                    report_skipped(&url.url, &skipped, &store);
                    state.skipped = skipped;
                }
            }
            Err(e) => {
                if state.last_error.as_deref() != Some(e.as_str()) {
                    tracing::warn!(url = %url.url, error = %e, "cannot fetch the JWKS; keeping the previous keys");
                }
                state.last_error = Some(e);
                store.count_reload(false);
            }
        }
    }
}

#[derive(Default)]
struct FetchState {
    etag: Option<String>,
    last_error: Option<String>,
    key_count: Option<usize>,
    /// The keys the last fetched document skipped.
    skipped: Vec<Skipped>,
}

impl FetchState {
    fn recovered(&mut self, url: &str) {
        if self.last_error.take().is_some() {
            tracing::info!(url, "JWKS fetch works again");
        }
    }
}

enum Fetched {
    NotModified,
    Keys {
        keys: Vec<Arc<Key>>,
        skipped: Vec<Skipped>,
        etag: Option<String>,
    },
}

/// One GET of the JWKS. Errors are short texts without the body (an `oct` key is a secret).
async fn fetch_once(
    client: &reqwest::Client,
    url: &str,
    etag: Option<&str>,
) -> Result<Fetched, String> {
    let mut req = client.get(url).header(
        reqwest::header::ACCEPT,
        "application/jwk-set+json, application/json",
    );
    if let Some(tag) = etag {
        req = req.header(reqwest::header::IF_NONE_MATCH, tag);
    }
    let mut resp = req.send().await.map_err(|e| describe(&e))?;
    match resp.status() {
        reqwest::StatusCode::NOT_MODIFIED if etag.is_some() => return Ok(Fetched::NotModified),
        reqwest::StatusCode::OK => {}
        s => return Err(format!("HTTP status {s}")),
    }
    let etag = resp
        .headers()
        .get(reqwest::header::ETAG)
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| describe(&e))? {
        if body.len() + chunk.len() > MAX_KEY_DOCUMENT {
            return Err(format!("the JWKS is larger than {MAX_KEY_DOCUMENT} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    let loaded = keys::load_jwks(&body)?;
    Ok(Fetched::Keys {
        keys: loaded.keys.into_iter().map(Arc::new).collect(),
        skipped: loaded.skipped,
        etag,
    })
}

/// A reqwest error without its URL (logged beside it already), with its cause chain.
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else if e.is_body() || e.is_decode() {
        "cannot read the body"
    } else {
        "request failed"
    };
    let mut msg = kind.to_owned();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use jsonwebtoken::Algorithm;

    use super::super::keys::{FileKind, FileSpec, Selection};
    use super::*;

    fn oct_jwks(kids: &[&str]) -> String {
        let keys: Vec<String> = kids
            .iter()
            .map(|k| {
                format!(
                    r#"{{"kty":"oct","kid":"{k}","k":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"}}"#
                )
            })
            .collect();
        format!(r#"{{"keys":[{}]}}"#, keys.join(","))
    }

    fn has(store: &KeyStore, kid: &str) -> bool {
        matches!(
            store.current().select(Some(kid), Algorithm::HS256),
            Selection::Keys(_)
        )
    }

    async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
        for _ in 0..200 {
            if f() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("timed out waiting for {what}");
    }

    #[tokio::test]
    async fn a_replaced_file_is_reloaded_and_a_broken_one_keeps_the_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwks.json");
        std::fs::write(&path, oct_jwks(&["a"])).unwrap();
        let spec = FileSpec {
            path: path.clone(),
            kind: FileKind::Jwks,
            kid: None,
            algorithm: None,
        };
        let bytes = std::fs::read(&path).unwrap();
        let source = FileSource {
            keys: keys::parse_file(&spec, &bytes)
                .unwrap()
                .into_iter()
                .map(Arc::new)
                .collect(),
            fingerprint: fingerprint(&bytes),
            spec,
        };
        let metrics = crate::metrics::Metrics::new().unwrap();
        let m = super::super::http::store_metrics(&metrics);
        let store = Arc::new(KeyStore::new(vec![source.keys.clone()], Some(m.clone())));
        let cancel = CancellationToken::new();
        let tracker = TaskTracker::new();
        // A long poll: the change must be noticed through notify.
        spawn(
            vec![source],
            None,
            Duration::from_secs(3600),
            store.clone(),
            cancel.clone(),
            &tracker,
        );
        assert!(has(&store, "a"));
        tokio::time::sleep(Duration::from_millis(100)).await;

        // Rotation by rename, as a careful writer does it.
        let tmp = dir.path().join("jwks.json.tmp");
        std::fs::write(&tmp, oct_jwks(&["a", "b"])).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        eventually("key b", || has(&store, "b")).await;
        assert_eq!(m.reload_ok.get(), 1);
        assert_eq!(m.keys.get(), 2);

        // A broken write keeps the keys and is counted once.
        std::fs::File::create(&path)
            .unwrap()
            .write_all(b"{\"keys\": [")
            .unwrap();
        eventually("the error counted", || m.reload_error.get() == 1).await;
        assert!(has(&store, "a") && has(&store, "b"));
        std::fs::write(&path, oct_jwks(&["c"])).unwrap();
        eventually("key c", || has(&store, "c")).await;
        assert!(!has(&store, "a"));
        assert_eq!(
            m.reload_error.get(),
            1,
            "the broken content was counted once"
        );

        cancel.cancel();
        tracker.close();
        tokio::time::timeout(Duration::from_secs(5), tracker.wait())
            .await
            .expect("the watcher stops on cancel");
    }

    /// A tiny JWKS server: answers every request with the current document (and its ETag),
    /// 304 when `If-None-Match` matches; counts requests.
    fn serve(doc: Arc<std::sync::Mutex<String>>, hits: Arc<AtomicUsize>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { break };
                let mut buf = [0u8; 4096];
                let n = conn.read(&mut buf).unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]).to_lowercase();
                hits.fetch_add(1, Ordering::SeqCst);
                let body = doc.lock().unwrap().clone();
                let tag = format!("\"{}\"", fingerprint(body.as_bytes()));
                let resp = if req.contains(&format!("if-none-match: {tag}")) {
                    format!("HTTP/1.1 304 Not Modified\r\netag: {tag}\r\nconnection: close\r\n\r\n")
                } else {
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\netag: {tag}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    )
                };
                let _ = conn.write_all(resp.as_bytes());
            }
        });
        format!("http://{addr}/jwks.json")
    }

    #[tokio::test]
    async fn the_url_is_fetched_on_start_and_refetched_on_an_unknown_kid_rate_limited() {
        let doc = Arc::new(std::sync::Mutex::new(oct_jwks(&["a"])));
        let hits = Arc::new(AtomicUsize::new(0));
        let url = serve(doc.clone(), hits.clone());
        let store = Arc::new(KeyStore::new(vec![Vec::new()], None));
        let cancel = CancellationToken::new();
        let tracker = TaskTracker::new();
        spawn(
            Vec::new(),
            Some(UrlSource {
                url,
                refresh: Duration::from_secs(3600),
                min_refetch: Duration::from_millis(1000),
                timeout: Duration::from_secs(5),
            }),
            Duration::from_secs(3600),
            store.clone(),
            cancel.clone(),
            &tracker,
        );
        eventually("the first fetch", || has(&store, "a")).await;
        assert_eq!(hits.load(Ordering::SeqCst), 1);

        // The IdP rotates; a burst of unknown-kid requests makes exactly one more fetch,
        // no sooner than a second after the first.
        *doc.lock().unwrap() = oct_jwks(&["b"]);
        let t0 = std::time::Instant::now();
        for _ in 0..50 {
            store.request_refetch();
            tokio::task::yield_now().await;
        }
        eventually("key b", || has(&store, "b")).await;
        assert!(!has(&store, "a"));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(hits.load(Ordering::SeqCst), 2, "coalesced into one fetch");
        assert!(t0.elapsed() >= Duration::from_millis(500), "rate-limited");

        // Unchanged: a conditional request keeps the keys.
        tokio::time::sleep(Duration::from_millis(1000)).await;
        store.request_refetch();
        eventually("the third fetch", || hits.load(Ordering::SeqCst) == 3).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(has(&store, "b"));

        // A broken document keeps the keys.
        *doc.lock().unwrap() = "<html>".into();
        tokio::time::sleep(Duration::from_millis(1000)).await;
        store.request_refetch();
        eventually("the fourth fetch", || hits.load(Ordering::SeqCst) == 4).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(has(&store, "b"));

        cancel.cancel();
        tracker.close();
        tokio::time::timeout(Duration::from_secs(5), tracker.wait())
            .await
            .expect("the fetcher stops on cancel");
    }
}
