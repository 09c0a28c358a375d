//! Prometheus provider tests.
