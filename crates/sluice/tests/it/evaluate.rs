//! `sluice evaluate` tests.
