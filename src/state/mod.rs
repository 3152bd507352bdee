//! What replicas share (SPEC §10): one trait per kind of shared state, with the in-process and
//! Redis implementations side by side.

pub mod responses;
