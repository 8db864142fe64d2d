//! What the system tests share, by concern:
//!
//! - [`servers`]: the engines on 127.0.0.1 (one per test binary, a fresh
//!   table per test), the portal simulator and its client, a sync;
//! - [`stacks`]: the CSV import and the API over those engines, uploads;
//! - [`oracle`]: the simulator's truth and the table read with a plain
//!   Scan, compared;
//! - [`fault_proxy`], [`lambda`], [`tap`], [`openapi`], [`bench`]: the
//!   fault proxy with its cloud model, the local Lambda, a TCP tap, the
//!   OpenAPI checks, the benchmarks' helpers.
//!
//! Set `DYNAMODB_ENDPOINT` to run the same tests against another engine
//! (CI points it at AWS's DynamoDB Local); otherwise each test binary starts
//! the embedded one in memory.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{NaiveDate, TimeZone};
use daily_sync::{DailySync, RunRequest};
use dynamodb_store::Store;
use learning_core::Settings;
use learning_core::import_log::Trigger;
use local_stack::Running;
use portal_client::{PortalClient, PortalConfig, Secret};
use portal_sim::{DataConfig, Portal, RunningPortal};
use tokio::sync::OnceCell;

pub mod oracle;
pub mod servers;
pub mod stacks;
pub mod tap;

pub mod bench;
pub mod fault_proxy;
pub mod lambda;
pub mod openapi;

pub use fault_proxy::{CloudModel, DbFaults, FaultProxy, fault_proxy, proxy_to};
pub use oracle::*;
pub use servers::*;
pub use stacks::*;
pub use tap::*;
