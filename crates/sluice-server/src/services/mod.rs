//! Built-in services that answer tasks inside the server (Keptn ran each as its own pod).

pub mod approval;
pub mod jobs;
