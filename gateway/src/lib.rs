//! The Soda webhook gateway: receives Soda Cloud events, runs sandboxed WebAssembly plugins on
//! them, stores the event and the plugins' actions durably, then executes the actions.
//!
//! # Layout
//!
//! The modules follow the life of one request:
//!
//! - [`listener`]: connections (TLS, connection cap, header and handshake timeouts).
//! - [`ingress`]: `POST /hooks/{tenant}`, body limit, per-tenant verification, the answer.
//! - [`events`]: the Soda event model, both payload generations.
//! - [`plugins`]: loading `.wasm` components and calling them in a sandbox.
//! - [`actions`]: what plugins asked for, retries, and the delivery worker.
//! - [`store`]: SQLite, where events, runs, actions and attempts are kept.
//! - [`admin`]: the operators' API (dead letters, replays, metrics), behind a bearer token;
//!   [`telemetry`] counts what flows through; [`console`] shows it all as web pages.
//!
//! [`config`] reads the TOML file, [`server`] wires everything together and [`cli`] holds the
//! command-line tools for plugin authors.

pub mod actions;
pub mod admin;
pub mod cli;
pub mod config;
pub mod console;
pub mod drain;
pub mod events;
pub mod ingress;
pub mod listener;
pub mod logging;
pub mod pipeline;
pub mod plugins;
pub mod records;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod tenant_reload;
pub mod tls;
pub mod traces;
pub mod watch;
