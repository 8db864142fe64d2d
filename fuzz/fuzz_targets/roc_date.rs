//! The date parser on any text: no panic; a date it reads, written in the
//! 7-digit ROC form, reads back as the same date.
#![no_main]

use learning_core::roc_date::{format_roc, parse_date};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(date) = parse_date(text)
        && let Ok(roc) = format_roc(date)
    {
        assert_eq!(parse_date(&roc), Ok(date), "{roc}");
    }
});
