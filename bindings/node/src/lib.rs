//! The native half of entitle's Node package: napi-rs functions over the Rust engine, on
//! engines and requests that JavaScript holds as external values.
//!
//! `index.js` wraps these in the public API (`Engine`, `Request`, `PolicyError`); it checks
//! the type of every argument before calling in, so the functions here take already-checked
//! values: ids as `u32`, names as strings, amounts as decimal strings (a JavaScript number
//! cannot hold every `u64`), and `now` as whole Unix seconds.

// The functions live in a private module: JavaScript reaches them through the registration
// napi-rs generates, and no Rust caller reaches them at all, so the glue the macros add to
// each item needs no documentation of its own.
mod native;
