//! Built-in services that answer tasks inside the server (Keptn ran each as its own pod).

pub mod approval;
pub mod evaluation;
pub mod feed;
pub mod jobs;
pub mod load_artifacts;
pub mod loadtest;
pub mod monitoring;
pub mod prometheus;
pub mod prometheus_rules;
pub mod remediation;
pub mod sli_provider;
