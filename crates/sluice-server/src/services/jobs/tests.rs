//! End-to-end tests of the job executor through a whole server.
