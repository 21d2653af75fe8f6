//! Remote clocks measured over HTTP: `[[probe.http-date]]` targets whose `Date` header, timed
//! htp-style, gives their clock's offset from ours to about one round trip.
//!
//! - [`estimate`]: the pure core: what one answer proves (an interval of offsets), how answers
//!   combine (intersection), when to send the next request (bisection of the target's second),
//!   and how a `Date` header is read and judged. Tested without a network.
//! - [`prober`]: the I/O shell: one task per target, a round every `interval`, requests timed
//!   and classified, the result written into `skew_http_date_*`.
//!
//! The targets' configuration (`[[probe.http-date]]`) is `crate::config::probe`.
//!
//! The JWT tolerance probe (`GET /probe?module=M&target=URL`): [`jwt_search`] is its pure
//! search (answers → next request, edges, offset, leeway, bound), [`jwt_config`] its
//! `[probe.jwt.modules.NAME]` modules and target allow-lists, [`jwt`] the shell that mints the
//! tokens and sends them, [`jwt_http`] the endpoint.

pub mod estimate;
pub mod jwt;
pub mod jwt_config;
pub mod jwt_http;
pub mod jwt_search;
pub mod prober;
