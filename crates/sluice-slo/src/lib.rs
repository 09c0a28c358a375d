//! SLO evaluation.
