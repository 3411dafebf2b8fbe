//! The blocking driver (being written).
