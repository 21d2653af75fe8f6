//! [`Switch`]: what answers a set of routes, replaced whole by a reload while the server
//! serves (the reloadable generations of `reload.rs`). Its own module, below both `reload` and
//! the handlers that take their state through one (`verify::http`).

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower::ServiceExt;

/// What answers a set of routes, replaced by a reload while it serves: the routes stay, what
/// answers them changes. `None` answers 404, as if the routes did not exist. Usually a
/// [`Router`]; `/v1/verify` switches its handler's state instead (a second routing pass
/// was ~3 000 instructions of a cached verification).
pub struct Switch<T = Router>(Arc<ArcSwapOption<T>>);

impl<T> Clone for Switch<T> {
    fn clone(&self) -> Self {
        Switch(self.0.clone())
    }
}

impl<T> Switch<T> {
    pub fn new(current: Option<T>) -> Self {
        Switch(Arc::new(ArcSwapOption::from_pointee(current)))
    }

    pub fn replace(&self, current: Option<T>) {
        self.0.store(current.map(Arc::new));
    }

    /// What answers now (a guard: not to be held across an `.await`).
    pub fn load(&self) -> arc_swap::Guard<Option<Arc<T>>> {
        self.0.load()
    }
}

impl Switch<Router> {
    fn current(&self) -> Option<Router> {
        self.0.load().as_deref().cloned()
    }

    /// `paths`, each answered by whatever router is current.
    pub fn routes(&self, paths: &[&str]) -> Router {
        let mut r = Router::new();
        for p in paths {
            r = r.route(p, axum::routing::any(switched));
        }
        r.with_state(self.clone())
    }
}

async fn switched(State(switch): State<Switch>, request: Request) -> Response {
    match switch.current() {
        Some(router) => match router.oneshot(request).await {
            Ok(r) => r,
            Err(never) => match never {},
        },
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
