//! Sharded metrics engine (work in progress).
