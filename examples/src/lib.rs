//! Runnable example toolkits: see the `examples/` folder of this crate.
