//! Probes of remote clocks. [`jwt_search`] is the JWT tolerance probe's pure search,
//! [`jwt_config`] its `[probe.jwt.modules.NAME]` modules and target allow-lists, [`jwt`] the
//! shell that mints tokens and sends them, [`jwt_http`] the `/probe` endpoint.

pub mod jwt;
pub mod jwt_config;
pub mod jwt_http;
pub mod jwt_search;
