//! `sluice evaluate` (pending the engine).
