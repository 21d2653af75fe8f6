//! NTP offset sampling.
//!
//! The pure core decides and never touches a socket: [`sample`] turns one exchange into a
//! [`sample::Sample`] or a [`sample::QueryResult`] class and picks the best sample of a burst;
//! [`select`] finds the servers that agree (Marzullo-style intersection) and combines their
//! offsets. The I/O shell, [`sampler`], owns the sockets, timers and the per-server tasks, and
//! writes what the core decided into the metrics.
//!
//! Sign convention (see the README): offset = server clock − local clock, so a positive offset
//! means the local clock is behind.

pub mod sample;
pub mod sampler;
pub mod select;
