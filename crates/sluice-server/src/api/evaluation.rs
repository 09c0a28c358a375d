//! placeholder
use crate::state::App;
use axum::Router;
use std::sync::Arc;
/// The routes of this module.
pub fn routes() -> Router<Arc<App>> {
    Router::new()
}
