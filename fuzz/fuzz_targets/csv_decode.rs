//! The encoding sniffer and the field decoder on any bytes: no panic; what
//! is taken as UTF-8 decodes to exactly its bytes; what decodes as Big5
//! was accepted by the CP950 check.
#![no_main]

use csv_rows::{Encoding, sniff};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(encoding) = sniff(data) else {
        return;
    };
    let body = &data[encoding.preamble().min(data.len())..];
    match (encoding, encoding.decode(body)) {
        (Encoding::Utf8 | Encoding::Utf8Bom, Some(text)) => assert_eq!(text.as_bytes(), body),
        (Encoding::Big5, Some(_)) => {
            assert!(!learning_core::spreadsheet::outside_cp950(body))
        }
        _ => {}
    }
});
