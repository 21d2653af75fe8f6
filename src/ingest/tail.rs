//! Tailing JSON-lines event logs, the way mtail is pointed at logs: `--events.file PATTERN`.
//!
//! One blocking thread owns every followed file. It wakes on `notify` events for the watched
//! directories, on a slow poll (the safety net where inotify is unavailable, on network file
//! systems, or after a queue overflow), and to write the checkpoint every second. Each wake
//! reads whatever the followed files gained; structural events and the poll also re-evaluate the
//! glob patterns and check for rotation.
//!
//! Files are identified by (device, inode), not by path. What happened to a file since the
//! last look is decided by two pure classifiers, [`classify_path`] (new, followed, replaced)
//! and [`classify_content`] (unchanged, grown, truncated); the tailer acts on their answer:
//! - rename + create rotation: the old file, now under another name (or none), is read to its
//!   end and dropped once it has been idle for a while; the new file at the path is followed
//!   from its start;
//! - copy-truncate: a size below the read position, or changed first bytes, restarts at 0;
//! - deleted and re-created files, files that appear after start-up and directories that do
//!   not exist yet are picked up by the next glob evaluation.
//!
//! A line without its newline yet is held until completed (never parsed twice or half); a line
//! over `--events.max-line` is skipped to the next newline and counted as `too_large`. With a
//! checkpoint file, (device, inode, offset, fingerprint) of every followed file is persisted
//! atomically every second and at shutdown, and a restart resumes exactly there, reading the
//! rest of a file that was rotated while the daemon was down if it is still in its directory.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use notify::{EventKind, RecursiveMode, Watcher};
use prometheus::{IntCounter, IntGauge};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::checkpoint::{self, Checkpoint, Entry, FINGERPRINT_LEN};
use super::follow::LineFormat;
use super::Ingest;
use crate::event::{InvalidEvent, InvalidKind};
use crate::metrics::{Metrics, Transport};
use crate::record::Recorder;

/// How much one read takes from a file.
const CHUNK: usize = 256 * 1024;
/// How often the checkpoint is written while something changed.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// Where to start in a file seen for the first time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StartAt {
    /// Do not replay history: only lines appended from now on.
    #[default]
    End,
    /// Read the whole file.
    Beginning,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TailSettings {
    /// `events.files`: files of our event schema.
    pub patterns: Vec<String>,
    /// `[[events.follow]]`: files read as their table says, after `patterns` (a file matching
    /// both is read by the first that matches).
    pub follow: Vec<FollowTable>,
    pub start: StartAt,
    pub checkpoint: Option<PathBuf>,
    pub poll_interval: Duration,
    pub max_line: usize,
    /// A file no longer at any matching path is dropped after being idle this long.
    pub idle_drop: Duration,
}

impl TailSettings {
    /// The `pattern` label of every pattern and table.
    pub fn labels(&self) -> Vec<&str> {
        let follow = self.follow.iter().map(FollowTable::label);
        self.patterns
            .iter()
            .map(String::as_str)
            .chain(follow)
            .collect()
    }
}

/// One `[[events.follow]]` table, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct FollowTable {
    pub name: Option<String>,
    /// A glob, as `events.files` patterns are.
    pub path: String,
    pub format: LineFormat,
}

impl FollowTable {
    /// The `pattern` label of its `skew_tail_*` series: its name, or else its path.
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.path)
    }
}

/// A glob the tailer evaluates, and how its files are read.
struct Source {
    glob: String,
    format: LineFormat,
}

/// What [`LineBuffer::feed`] hands out.
#[derive(Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    /// A complete line, without its `\n`.
    Line(&'a [u8]),
    /// A line over the limit was skipped (reported once per line).
    Overlong,
}

/// Splits a byte stream into lines, holding an incomplete last line, and skipping lines over
/// `max_line` bytes to their newline.
#[derive(Debug)]
pub struct LineBuffer {
    partial: Vec<u8>,
    /// In an over-long line (or a line cut by the start position): discard to the newline.
    skipping: bool,
    /// Bytes of the line being skipped so far.
    skipped: usize,
    max_line: usize,
}

impl LineBuffer {
    pub fn new(max_line: usize) -> Self {
        LineBuffer {
            partial: Vec::new(),
            skipping: false,
            skipped: 0,
            max_line,
        }
    }

    /// Feeds a chunk; `out` gets every complete line and every skipped over-long line.
    pub fn feed(&mut self, chunk: &[u8], mut out: impl FnMut(Piece<'_>)) {
        let mut rest = chunk;
        while let Some(i) = memchr::memchr(b'\n', rest) {
            let piece = &rest[..i];
            rest = &rest[i + 1..];
            if self.skipping {
                self.skipping = false;
                self.skipped = 0;
            } else if self.partial.is_empty() {
                if piece.len() > self.max_line {
                    out(Piece::Overlong);
                } else {
                    out(Piece::Line(piece));
                }
            } else if self.partial.len() + piece.len() > self.max_line {
                out(Piece::Overlong);
                self.partial.clear();
            } else {
                self.partial.extend_from_slice(piece);
                out(Piece::Line(&self.partial));
                self.partial.clear();
            }
        }
        if self.skipping {
            self.skipped += rest.len();
        } else if self.partial.len() + rest.len() > self.max_line {
            out(Piece::Overlong);
            self.skipped = self.partial.len() + rest.len();
            self.partial.clear();
            self.skipping = true;
        } else {
            self.partial.extend_from_slice(rest);
        }
    }

    /// Discards everything up to the next newline, silently (a start position inside a line).
    pub fn skip_to_next_line(&mut self) {
        self.partial.clear();
        self.skipping = true;
        self.skipped = 0;
    }

    /// Bytes read but not yet part of a recorded line.
    pub fn pending(&self) -> usize {
        self.partial.len() + self.skipped
    }

    pub fn reset(&mut self) {
        self.partial.clear();
        self.skipping = false;
        self.skipped = 0;
    }
}

/// (device, inode): what identifies a file, whatever its path.
pub type FileId = (u64, u64);

/// What a glob evaluation found at a matching path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathChange {
    /// The file there is already followed (perhaps renamed into this path): nothing to do.
    Followed,
    /// A file not followed, at a path that held no other file: follow it (from the start, or
    /// from the end on the first scan with `--events.start=end`).
    New,
    /// Another file than the one last seen at this path: rename + create rotation, or deleted
    /// and re-created. Follow it from its start, and count a rotation.
    Replaced,
}

/// Classifies what is at a path now: `before` is the file last seen at it, `now` the file
/// there now, `followed` whether `now` is among the followed files.
pub fn classify_path(before: Option<FileId>, now: FileId, followed: bool) -> PathChange {
    if followed {
        PathChange::Followed
    } else if before.is_some_and(|old| old != now) {
        PathChange::Replaced
    } else {
        PathChange::New
    }
}

/// Where the reading of a followed file stood after the last pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadState<'a> {
    /// Bytes read.
    pub offset: u64,
    /// The size seen at the last pass.
    pub size: u64,
    /// The fingerprint of its first bytes, and how many bytes it covers, once taken.
    pub fingerprint: Option<(&'a str, usize)>,
}

/// What became of a followed file's content since the last pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentChange {
    /// Nothing past the read position.
    Unchanged,
    /// Bytes past the read position: read them.
    Grown,
    /// Shorter than the read position, or (its size changed and) its first bytes are not the
    /// ones fingerprinted: copy-truncate, or rewritten in place. Read again from 0.
    Truncated,
}

/// Classifies a followed file from its state and its size now. `fingerprint_now(len)` is the
/// fingerprint of its first `len` bytes now (`None` when they cannot be read); it is asked only
/// when the size changed and a fingerprint was taken, so that an idle file costs no read.
pub fn classify_content(
    before: ReadState<'_>,
    size: u64,
    fingerprint_now: impl FnOnce(usize) -> Option<String>,
) -> ContentChange {
    let rewritten = || {
        size != before.size
            && before
                .fingerprint
                .is_some_and(|(fp, len)| fingerprint_now(len).as_deref() != Some(fp))
    };
    if size < before.offset || rewritten() {
        ContentChange::Truncated
    } else if size == before.offset {
        ContentChange::Unchanged
    } else {
        ContentChange::Grown
    }
}

/// The per-pattern metric children.
struct PatternMetrics {
    lines: IntCounter,
    bytes: IntCounter,
    rotations: IntCounter,
    truncations: IntCounter,
    refused: IntCounter,
    skipped: IntCounter,
    read_errors: IntCounter,
    lag: IntGauge,
    files: IntGauge,
}

impl PatternMetrics {
    fn new(m: &Metrics, pattern: &str) -> Self {
        let t = &m.tail;
        let l = &[pattern];
        PatternMetrics {
            lines: t.lines.with_label_values(l),
            bytes: t.bytes.with_label_values(l),
            rotations: t.rotations.with_label_values(l),
            truncations: t.truncations.with_label_values(l),
            refused: t.refused.with_label_values(l),
            skipped: t.skipped.with_label_values(l),
            read_errors: t.read_errors.with_label_values(l),
            lag: t.lag.with_label_values(l),
            files: t.files.with_label_values(l),
        }
    }
}

/// One followed file.
struct Followed {
    path: PathBuf,
    pattern: usize,
    file: File,
    /// Bytes read from the file (complete lines plus what the buffer holds).
    offset: u64,
    size: u64,
    buffer: LineBuffer,
    /// Fingerprint of the first bytes once the file has `FINGERPRINT_LEN` of them.
    fingerprint: Option<(String, usize)>,
    /// No matching path refers to this file any more: read it to its end, then drop it.
    detached: bool,
    last_growth: Instant,
}

impl Followed {
    fn committed(&self) -> u64 {
        self.offset.saturating_sub(self.buffer.pending() as u64)
    }
}

enum Msg {
    /// A file-system event; `structural` when files may have appeared, moved or gone.
    Fs {
        structural: bool,
    },
    Stop,
}

/// Starts the tailing thread (when patterns are configured).
pub fn spawn(
    settings: TailSettings,
    recorder: Arc<Recorder>,
    cancel: CancellationToken,
    tracker: &TaskTracker,
) {
    if settings.patterns.is_empty() && settings.follow.is_empty() {
        return;
    }
    let (tx, rx) = mpsc::channel();
    let watcher = {
        let tx = tx.clone();
        notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            let structural = match res {
                Ok(e) => !matches!(
                    e.kind,
                    EventKind::Modify(notify::event::ModifyKind::Data(_)) | EventKind::Access(_)
                ),
                Err(_) => true, // e.g. a queue overflow: re-check everything
            };
            let _ = tx.send(Msg::Fs { structural });
        })
    };
    let watcher = match watcher {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!(error = %e, "no file-system notifications; polling only");
            None
        }
    };
    tracker.spawn(async move {
        cancel.cancelled().await;
        let _ = tx.send(Msg::Stop);
    });
    tracker.spawn_blocking(move || Tailer::new(settings, recorder, watcher).run(rx));
}

struct Tailer {
    settings: TailSettings,
    /// `settings.patterns`, then `settings.follow`: what a `pattern` index refers to.
    sources: Vec<Source>,
    recorder: Arc<Recorder>,
    watcher: Option<notify::RecommendedWatcher>,
    watched: HashSet<PathBuf>,
    metrics: Vec<PatternMetrics>,
    files: HashMap<FileId, Followed>,
    /// Path → the file last seen there, to recognise a rotation.
    known: HashMap<PathBuf, FileId>,
    /// Paths known from the checkpoint: a new file there is read from its start.
    restored_paths: HashSet<PathBuf>,
    /// Paths whose last open/stat failed, with the error, to log once per state change.
    failing: HashMap<PathBuf, String>,
    /// The checkpoint's last write error, to log once per state change (a failing write is
    /// retried every second while anything changes).
    checkpoint_error: LastError,
    first_scan: bool,
    dirty: bool,
    recorded: u64,
}

impl Tailer {
    fn new(
        settings: TailSettings,
        recorder: Arc<Recorder>,
        watcher: Option<notify::RecommendedWatcher>,
    ) -> Self {
        let events = settings
            .patterns
            .iter()
            .map(|p| (p.as_str(), p.as_str(), LineFormat::Events));
        let follow = settings
            .follow
            .iter()
            .map(|t| (t.path.as_str(), t.label(), t.format.clone()));
        let (sources, metrics) = events
            .chain(follow)
            .map(|(glob, label, format)| {
                (
                    Source {
                        glob: glob.to_owned(),
                        format,
                    },
                    PatternMetrics::new(recorder.metrics(), label),
                )
            })
            .unzip();
        Tailer {
            settings,
            sources,
            recorder,
            watcher,
            watched: HashSet::new(),
            metrics,
            files: HashMap::new(),
            known: HashMap::new(),
            restored_paths: HashSet::new(),
            failing: HashMap::new(),
            checkpoint_error: LastError::default(),
            first_scan: true,
            dirty: false,
            recorded: 0,
        }
    }

    fn run(mut self, rx: mpsc::Receiver<Msg>) {
        self.restore();
        self.scan(true);
        self.first_scan = false;
        let mut last_glob = Instant::now();
        let mut last_checkpoint = Instant::now();
        loop {
            let now = Instant::now();
            let next_glob = last_glob + self.settings.poll_interval;
            let next_cp = last_checkpoint + CHECKPOINT_EVERY;
            let wait = next_glob.min(next_cp).saturating_duration_since(now);
            let mut glob = false;
            match rx.recv_timeout(wait) {
                Ok(Msg::Stop) | Err(RecvTimeoutError::Disconnected) => break,
                Ok(Msg::Fs { structural }) => {
                    glob |= structural;
                    // Coalesce a burst of events into one pass.
                    let mut stop = false;
                    for m in rx.try_iter() {
                        match m {
                            Msg::Fs { structural } => glob |= structural,
                            Msg::Stop => stop = true,
                        }
                    }
                    if stop {
                        break;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
            if glob || last_glob.elapsed() >= self.settings.poll_interval {
                last_glob = Instant::now();
                glob = true;
            }
            self.scan(glob);
            if last_checkpoint.elapsed() >= CHECKPOINT_EVERY {
                last_checkpoint = Instant::now();
                self.write_checkpoint();
            }
        }
        // Shutdown: take what is there, then persist where we are.
        self.scan(true);
        self.dirty = true;
        self.write_checkpoint();
        tracing::info!(events_recorded = self.recorded, "file tailing stopped");
    }

    /// Re-evaluates the patterns when `glob`, then reads every followed file.
    fn scan(&mut self, glob: bool) {
        if glob {
            self.discover();
            self.ensure_watches();
        }
        let recorder = self.recorder.clone();
        let mut batch = recorder.batch(Transport::File);
        let mut ingest = Ingest::new(&mut batch, self.settings.max_line, crate::unix_now());
        let ids: Vec<FileId> = self.files.keys().copied().collect();
        for id in ids {
            self.read(id, &mut ingest);
        }
        let report = ingest.finish();
        self.recorded += report.accepted;
        let idle_drop = self.settings.idle_drop;
        let before = self.files.len();
        self.files.retain(|_, f| {
            !(f.detached && f.size <= f.offset && f.last_growth.elapsed() >= idle_drop)
        });
        if self.files.len() != before {
            self.dirty = true;
        }
        for (i, m) in self.metrics.iter().enumerate() {
            let mine = self.files.values().filter(|f| f.pattern == i);
            let (lag, count) = mine.fold((0u64, 0i64), |(lag, n), f| {
                (lag + f.size.saturating_sub(f.committed()), n + 1)
            });
            m.lag.set(i64::try_from(lag).unwrap_or(i64::MAX));
            m.files.set(count);
        }
    }

    /// Evaluates every pattern: follows new files, notices rotations and vanished paths.
    fn discover(&mut self) {
        let mut current: HashMap<PathBuf, (FileId, usize, u64)> = HashMap::new();
        for i in 0..self.sources.len() {
            let Ok(paths) = glob::glob(&self.sources[i].glob) else {
                continue;
            };
            for path in paths.flatten() {
                match fs::metadata(&path) {
                    Ok(meta) if meta.is_file() => {
                        current
                            .entry(path)
                            .or_insert(((meta.dev(), meta.ino()), i, meta.len()));
                    }
                    Ok(_) => {}
                    Err(e) => self.fail(&path, i, &e),
                }
            }
        }
        let live: HashSet<FileId> = current.values().map(|v| v.0).collect();
        for f in self.files.values_mut() {
            let detached = !live.contains(&(f.file_id()));
            if detached && !f.detached {
                tracing::debug!(path = %f.path.display(), "file moved or deleted; reading it to its end");
            }
            f.detached = detached;
        }
        for (path, (id, pattern, size)) in current {
            let change = classify_path(
                self.known.get(&path).copied(),
                id,
                self.files.contains_key(&id),
            );
            if change == PathChange::Followed {
                if let Some(f) = self.files.get_mut(&id) {
                    f.path = path.clone();
                }
            } else {
                let rotated = change == PathChange::Replaced;
                if rotated {
                    self.metrics[pattern].rotations.inc();
                    tracing::debug!(path = %path.display(), "file rotated");
                }
                let from_start = !self.first_scan
                    || self.settings.start == StartAt::Beginning
                    || rotated
                    || self.restored_paths.contains(&path);
                self.follow(&path, pattern, if from_start { 0 } else { size });
            }
            self.known.insert(path, id);
        }
    }

    /// Opens a file and starts following it at `offset`.
    fn follow(&mut self, path: &Path, pattern: usize, offset: u64) {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) => return self.fail(path, pattern, &e),
        };
        let meta = match file.metadata() {
            Ok(m) => m,
            Err(e) => return self.fail(path, pattern, &e),
        };
        if self.failing.remove(path).is_some() {
            tracing::info!(path = %path.display(), "file readable again");
        }
        let mut buffer = LineBuffer::new(self.settings.max_line);
        // Starting inside a line (at the end of a file a writer is still writing): skip it.
        if offset > 0 {
            let mut last = [0u8; 1];
            if file.read_at(&mut last, offset - 1).ok() == Some(1) && last[0] != b'\n' {
                buffer.skip_to_next_line();
            }
        }
        let id = (meta.dev(), meta.ino());
        self.files.insert(
            id,
            Followed {
                path: path.to_owned(),
                pattern,
                file,
                offset,
                size: meta.len(),
                buffer,
                fingerprint: None,
                detached: false,
                last_growth: Instant::now(),
            },
        );
        self.dirty = true;
    }

    /// Logs a file error once per state change and counts it.
    fn fail(&mut self, path: &Path, pattern: usize, e: &std::io::Error) {
        self.metrics[pattern].read_errors.inc();
        let msg = e.to_string();
        if self.failing.get(path) != Some(&msg) {
            tracing::warn!(path = %path.display(), error = %msg, "cannot read event file; will retry");
            self.failing.insert(path.to_owned(), msg);
        }
    }

    /// Reads what a followed file gained since the last pass.
    fn read(&mut self, id: FileId, ingest: &mut Ingest<'_, '_>) {
        let Some(f) = self.files.get_mut(&id) else {
            return;
        };
        let m = &self.metrics[f.pattern];
        let format = &self.sources[f.pattern].format;
        let size = match f.file.metadata() {
            Ok(meta) => meta.len(),
            Err(e) => {
                m.read_errors.inc();
                tracing::debug!(path = %f.path.display(), error = %e, "fstat failed");
                return;
            }
        };
        let before = ReadState {
            offset: f.offset,
            size: f.size,
            fingerprint: f.fingerprint.as_ref().map(|(fp, len)| (fp.as_str(), *len)),
        };
        let file = &f.file;
        let change = classify_content(before, size, |len| {
            checkpoint::fingerprint(file, len).ok().map(|x| x.0)
        });
        f.size = size;
        match change {
            ContentChange::Unchanged => return,
            ContentChange::Grown => {}
            ContentChange::Truncated => {
                m.truncations.inc();
                tracing::debug!(path = %f.path.display(), "file truncated; reading from the start");
                f.offset = 0;
                f.buffer.reset();
                f.fingerprint = None;
                self.dirty = true;
                if size == 0 {
                    return;
                }
            }
        }
        f.last_growth = Instant::now();
        self.dirty = true;
        read_lines(f, m, format, size, ingest);
        if f.fingerprint
            .as_ref()
            .is_none_or(|(_, len)| *len < FINGERPRINT_LEN)
        {
            f.fingerprint = checkpoint::fingerprint(&f.file, f.offset as usize).ok();
        }
    }

    /// Adds a notify watch on the directory of every pattern (its part before any wildcard),
    /// as soon as that directory exists.
    fn ensure_watches(&mut self) {
        let Some(w) = self.watcher.as_mut() else {
            return;
        };
        for source in &self.sources {
            let dir = watch_dir(&source.glob);
            if self.watched.contains(&dir) || !dir.is_dir() {
                continue;
            }
            match w.watch(&dir, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    self.watched.insert(dir);
                }
                Err(e) => {
                    tracing::debug!(dir = %dir.display(), error = %e, "cannot watch; polling covers it")
                }
            }
        }
    }

    /// Picks up where the last run stopped.
    fn restore(&mut self) {
        let Some(path) = self.settings.checkpoint.clone() else {
            return;
        };
        let cp = match Checkpoint::load(&path) {
            Ok(cp) => cp,
            Err(e) => {
                tracing::warn!(checkpoint = %path.display(), error = %e, "unreadable checkpoint; starting without it");
                return;
            }
        };
        for entry in cp.files {
            let Some(pattern) = self
                .sources
                .iter()
                .position(|s| glob_matches(&s.glob, &entry.path))
            else {
                continue; // no longer configured
            };
            self.restored_paths.insert(entry.path.clone());
            let same = fs::metadata(&entry.path)
                .is_ok_and(|m| (m.dev(), m.ino()) == (entry.dev, entry.ino))
                && fingerprint_matches(&entry.path, &entry);
            if same {
                self.resume(&entry.path.clone(), pattern, &entry);
                continue;
            }
            // Rotated while we were down: the old file may still be in the directory.
            if let Some(old) = find_by_id(&entry) {
                tracing::info!(old = %old.display(), path = %entry.path.display(), "reading the rest of a file rotated while stopped");
                self.resume(&old, pattern, &entry);
                if let Some(f) = self.files.get_mut(&(entry.dev, entry.ino)) {
                    f.detached = true;
                }
                self.known
                    .insert(entry.path.clone(), (entry.dev, entry.ino));
            } else {
                tracing::warn!(path = %entry.path.display(), "checkpointed file is gone; its unread rest is lost");
            }
        }
    }

    fn resume(&mut self, path: &Path, pattern: usize, entry: &Entry) {
        self.follow(path, pattern, entry.offset);
        if let Some(f) = self.files.get_mut(&(entry.dev, entry.ino)) {
            // The checkpoint offset is always at a line start.
            f.buffer.reset();
            f.fingerprint = Some((entry.fingerprint.clone(), entry.fingerprint_len));
        }
    }

    fn write_checkpoint(&mut self) {
        let Some(path) = self.settings.checkpoint.as_ref() else {
            return;
        };
        if !self.dirty {
            return;
        }
        let files = self
            .files
            .iter()
            .map(|(&(dev, ino), f)| {
                let (fingerprint, fingerprint_len) = f
                    .fingerprint
                    .clone()
                    .unwrap_or_else(|| (checkpoint::fnv1a(&[]), 0));
                Entry {
                    path: f.path.clone(),
                    dev,
                    ino,
                    offset: f.committed(),
                    fingerprint,
                    fingerprint_len,
                }
            })
            .collect();
        match (Checkpoint { version: 1, files }).store(path) {
            Ok(()) => {
                self.dirty = false;
                if self.checkpoint_error.ok() {
                    tracing::info!(checkpoint = %path.display(), "checkpoint written again");
                }
            }
            Err(e) => {
                let e = e.to_string();
                if self.checkpoint_error.fail(&e) {
                    tracing::warn!(checkpoint = %path.display(), error = %e, "cannot write checkpoint; will retry");
                }
            }
        }
    }
}

/// Reads `f` from its offset up to `size`, a chunk at a time, and feeds each whole line to
/// `ingest` (as events, or through the pattern's mapping), counting bytes, lines, skipped and
/// refused lines.
fn read_lines(
    f: &mut Followed,
    m: &PatternMetrics,
    format: &LineFormat,
    size: u64,
    ingest: &mut Ingest<'_, '_>,
) {
    let mut chunk = vec![0u8; CHUNK];
    while f.offset < size {
        let want = usize::try_from(size - f.offset).unwrap_or(CHUNK).min(CHUNK);
        let n = match f.file.read_at(&mut chunk[..want], f.offset) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                m.read_errors.inc();
                tracing::debug!(path = %f.path.display(), error = %e, "read failed");
                break;
            }
        };
        f.offset += n as u64;
        m.bytes.inc_by(n as u64);
        let invalid_before = ingest.invalid();
        let (mut lines, mut skipped) = (0u64, 0u64);
        f.buffer.feed(&chunk[..n], |piece| {
            lines += 1;
            match (piece, format) {
                (Piece::Line(line), LineFormat::Events) => ingest.line(line, 0),
                (Piece::Line(line), LineFormat::Mapped(mapping)) => {
                    skipped += u64::from(ingest.mapped_line(mapping, line, 0));
                }
                (Piece::Overlong, _) => ingest.refuse(
                    0,
                    InvalidEvent::new(InvalidKind::TooLarge, "line over --events.max-line"),
                ),
            }
        });
        m.lines.inc_by(lines);
        m.skipped.inc_by(skipped);
        m.refused.inc_by(ingest.invalid() - invalid_before);
    }
}

/// The last error of something retried, so that it is logged once per change of state.
#[derive(Debug, Default)]
struct LastError(Option<String>);

impl LastError {
    /// Records a failure; true when it is news (the first, or a different error).
    fn fail(&mut self, error: &str) -> bool {
        if self.0.as_deref() == Some(error) {
            return false;
        }
        self.0 = Some(error.to_owned());
        true
    }

    /// Records a success; true when it ends a failure.
    fn ok(&mut self) -> bool {
        self.0.take().is_some()
    }
}

impl Followed {
    fn file_id(&self) -> FileId {
        self.file
            .metadata()
            .map(|m| (m.dev(), m.ino()))
            .unwrap_or((0, 0))
    }
}

fn fingerprint_matches(path: &Path, entry: &Entry) -> bool {
    entry.fingerprint_len == 0
        || checkpoint::fingerprint_path(path, entry.fingerprint_len)
            .ok()
            .flatten()
            .as_deref()
            == Some(entry.fingerprint.as_str())
}

/// Looks for a file with the checkpoint's (device, inode) and fingerprint in its directory.
fn find_by_id(entry: &Entry) -> Option<PathBuf> {
    let dir = entry.path.parent()?;
    fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            fs::metadata(p)
                .is_ok_and(|m| m.is_file() && (m.dev(), m.ino()) == (entry.dev, entry.ino))
                && fingerprint_matches(p, entry)
        })
}

fn glob_matches(pattern: &str, path: &Path) -> bool {
    glob::Pattern::new(pattern).is_ok_and(|p| p.matches_path(path))
}

/// The directory to watch for a pattern: its longest leading part without wildcards.
pub fn watch_dir(pattern: &str) -> PathBuf {
    let mut dir = PathBuf::new();
    let p = Path::new(pattern);
    let mut components: Vec<_> = p.components().collect();
    components.pop(); // the file part
    for c in components {
        let s = c.as_os_str().to_string_lossy();
        if s.contains(['*', '?', '[']) {
            break;
        }
        dir.push(c);
    }
    if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retried_error_is_news_once_per_change() {
        let mut e = LastError::default();
        assert!(!e.ok(), "nothing to recover from");
        assert!(e.fail("disk full"));
        assert!(!e.fail("disk full"), "the same error again: not news");
        assert!(e.fail("permission denied"), "another error");
        assert!(e.ok(), "recovery");
        assert!(!e.ok());
        assert!(e.fail("disk full"), "a new failure after recovery");
    }

    fn feed(buf: &mut LineBuffer, chunk: &[u8]) -> (Vec<String>, usize) {
        let mut lines = Vec::new();
        let mut over = 0;
        buf.feed(chunk, |p| match p {
            Piece::Line(l) => lines.push(String::from_utf8_lossy(l).into_owned()),
            Piece::Overlong => over += 1,
        });
        (lines, over)
    }

    #[test]
    fn partial_lines_are_held_until_complete() {
        let mut b = LineBuffer::new(100);
        assert_eq!(feed(&mut b, b"{\"a\":"), (vec![], 0));
        assert_eq!(b.pending(), 5);
        assert_eq!(
            feed(&mut b, b"1}\n{\"b\""),
            (vec!["{\"a\":1}".to_string()], 0)
        );
        assert_eq!(feed(&mut b, b":2}\n"), (vec!["{\"b\":2}".to_string()], 0));
        assert_eq!(b.pending(), 0);
    }

    #[test]
    fn overlong_lines_are_skipped_to_the_newline_and_counted_once() {
        let mut b = LineBuffer::new(10);
        assert_eq!(feed(&mut b, b"0123456789ABC"), (vec![], 1));
        assert_eq!(feed(&mut b, b"DEF"), (vec![], 0));
        assert_eq!(feed(&mut b, b"GH\nok\n"), (vec!["ok".to_string()], 0));
        assert_eq!(
            feed(&mut b, b"0123456789ABC\nok2\n"),
            (vec!["ok2".to_string()], 1)
        );
        assert_eq!(feed(&mut b, b"01234"), (vec![], 0));
        assert_eq!(feed(&mut b, b"56789AB\n"), (vec![], 1));
        assert_eq!(b.pending(), 0);
    }

    #[test]
    fn a_line_of_exactly_the_limit_is_kept() {
        let mut b = LineBuffer::new(4);
        assert_eq!(feed(&mut b, b"ab"), (vec![], 0));
        assert_eq!(feed(&mut b, b"cd\n"), (vec!["abcd".to_string()], 0));
    }

    #[test]
    fn skip_to_next_line_is_silent() {
        let mut b = LineBuffer::new(100);
        b.skip_to_next_line();
        assert_eq!(
            feed(&mut b, b"tail of a line\nnext\n"),
            (vec!["next".to_string()], 0)
        );
    }

    #[test]
    fn watch_dirs() {
        assert_eq!(
            watch_dir("/var/log/api/*.jsonl"),
            PathBuf::from("/var/log/api")
        );
        assert_eq!(
            watch_dir("/var/log/*/events.jsonl"),
            PathBuf::from("/var/log")
        );
        assert_eq!(watch_dir("events.jsonl"), PathBuf::from("."));
        assert_eq!(watch_dir("/var/log/app.jsonl"), PathBuf::from("/var/log"));
    }

    #[test]
    fn what_happened_at_a_path() {
        use PathChange::*;
        let (x, y) = ((1, 10), (1, 11));
        for (before, now, followed, want, name) in [
            (None, x, false, New, "a path seen for the first time"),
            (
                Some(x),
                x,
                false,
                New,
                "the same file, no longer followed (dropped, or its open failed)",
            ),
            (Some(x), x, true, Followed, "the same file, followed"),
            (
                Some(x),
                y,
                false,
                Replaced,
                "rename + create, or deleted and re-created",
            ),
            (
                None,
                y,
                true,
                Followed,
                "a followed file renamed into a matching path",
            ),
            (
                Some(x),
                y,
                true,
                Followed,
                "a followed file renamed over another",
            ),
        ] {
            assert_eq!(classify_path(before, now, followed), want, "{name}");
        }
    }

    #[test]
    fn what_happened_to_a_followed_file() {
        use ContentChange::*;
        let fp = Some(("abc", 3));
        let state = |offset, size, fingerprint| ReadState {
            offset,
            size,
            fingerprint,
        };
        // (state, size now, first bytes' fingerprint now, expected, name)
        let cases: [(ReadState<'_>, u64, Option<&str>, ContentChange, &str); 10] = [
            (state(100, 100, fp), 100, Some("abc"), Unchanged, "idle"),
            (
                state(0, 0, None),
                0,
                None,
                Unchanged,
                "empty and still empty",
            ),
            (state(100, 100, fp), 150, Some("abc"), Grown, "appended to"),
            (
                state(0, 0, None),
                10,
                None,
                Grown,
                "first bytes in an empty file",
            ),
            (
                state(100, 100, fp),
                40,
                Some("abc"),
                Truncated,
                "shorter than the read position",
            ),
            (
                state(100, 100, fp),
                0,
                None,
                Truncated,
                "truncated to nothing",
            ),
            (
                state(100, 100, fp),
                150,
                Some("xyz"),
                Truncated,
                "copy-truncate, refilled past the position",
            ),
            (
                state(100, 100, fp),
                150,
                None,
                Truncated,
                "first bytes unreadable",
            ),
            (
                state(100, 100, None),
                150,
                Some("xyz"),
                Grown,
                "no fingerprint yet: nothing to compare",
            ),
            (
                state(100, 120, fp),
                120,
                Some("xyz"),
                Grown,
                "size unchanged since the last look: no fingerprint read",
            ),
        ];
        for (before, size, now, want, name) in cases {
            let mut asked = false;
            let got = classify_content(before, size, |len| {
                asked = true;
                assert_eq!(Some(len), before.fingerprint.map(|f| f.1), "{name}");
                now.map(str::to_owned)
            });
            assert_eq!(got, want, "{name}");
            let must_ask =
                size >= before.offset && size != before.size && before.fingerprint.is_some();
            assert_eq!(asked, must_ask, "{name}: fingerprint read");
        }
    }
}
