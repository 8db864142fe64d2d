//! The CSV files staff upload (學員通過認證名單), without AWS: the encoding
//! told from the first bytes ([`decode`]) and every row checked into a
//! training record or a rejection ([`rows`]).
//!
//! Rows are split on raw bytes (`csv::ByteRecord`): in UTF-8 and in Big5
//! alike, commas, quotes and line ends never occur inside a character, so
//! each field is decoded on its own and a row holding a byte that does not
//! map is refused alone, never written with a garbled name.
//!
//! A crate of its own so the fuzz targets (`fuzz/`) build it without the
//! AWS SDK.

pub mod decode;
pub mod rows;

pub use decode::{Encoding, FileCode, FileProblem, OpenError, sniff};
pub use rows::{
    Columns, CsvRows, Position, Rejection, Resume, RowChecker, RowOutcome, key_hash, open, resume,
};
