//! The runtime: the single writer that drives sequences (`driver`), the event bus, the clock,
//! event ids, the existence check of project, stage and service, and the projects view.

pub mod bus;
pub mod clock;
pub mod cluster;
pub mod driver;
pub mod ids;
pub(crate) mod projects_view;
pub mod scope;
