//! The domain of the learning-record bridge, free of AWS.
//!
//! A reader finds here what a valid training record is ([`record`]), how
//! national IDs ([`national_id`]), ROC dates ([`roc_date`]), hours
//! ([`hours`]) and agency codes ([`agency`]) are checked, which records are
//! locked ([`record::Source`]), what a write may replace ([`write`]), what an import-log entry holds
//! ([`import_log`]), the rules for a range of days staff ask for
//! ([`days`]), and the configuration every function shares ([`config`]).

pub mod agency;
pub mod audit;
pub mod backoff;
pub mod config;
pub mod days;
pub mod hash;
pub mod hours;
pub mod import_log;
pub mod metrics;
pub mod national_id;
pub mod ownership;
pub mod portal;
pub mod problem;
pub mod record;
pub mod roc_date;
pub mod spreadsheet;
pub mod write;

pub use agency::AgencyCode;
pub use config::{ConfigError, Env, Settings};
pub use days::{DayRange, LastDay, RangeRules};
pub use hours::Hours;
pub use national_id::NationalId;
pub use portal::{FromPortal, PortalId};
pub use problem::Problem;
pub use record::{NaturalKey, RawRecord, Source, TrainingRecord};
