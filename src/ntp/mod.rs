//! NTP offset sampling.
//!
//! The pure core decides and never touches a socket: [`sample`] turns one exchange into a
//! [`sample::Sample`] or a [`sample::QueryResult`] class and picks the best sample of a burst;
//! [`select`] finds the servers that agree (Marzullo-style intersection) and combines their
//! offsets. The I/O shell, [`sampler`], owns the sockets, timers and the per-server tasks, and
//! writes what the core decided into the metrics; what it logs about the servers (a line per
//! change of state, rate-limited, and one when none answers) is decided by the pure [`health`].
//!
//! Sign convention (see the README): offset = server clock − local clock, so a positive offset
//! means the local clock is behind.

pub mod health;
pub mod sample;
pub mod sampler;
pub mod select;
