//! The CSV import (學員通過認證名單入檔), without AWS: how an uploaded file is
//! decoded, how its header is read, and what happens to every row.
//!
//! Rows are split on raw bytes (`csv::ByteRecord`): in UTF-8 and in Big5
//! alike, commas, quotes and line ends never occur inside a character, so
//! each field is decoded on its own and a row holding a byte that does not
//! map is refused alone, never written with a garbled name.

pub mod decode;
pub mod rows;

pub use decode::{Encoding, FileProblem, sniff};
pub use rows::{Columns, CsvRows, Rejection, RowChecker, RowOutcome, open};
