//! Loom models of the sharded metrics engine live in `tests/`.
