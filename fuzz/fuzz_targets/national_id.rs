//! The national-ID parser and the maskers on any text: no panic; an ID it
//! accepts is rebuilt by its check digit and masked to six characters;
//! redacting leaves no ID-shaped run and is idempotent.
#![no_main]

use learning_core::NationalId;
use learning_core::national_id::{mask_raw_id, redact};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(id) = NationalId::parse(text) {
        assert_eq!(NationalId::with_check_digit(&id.as_str()[..9]), Some(id.clone()));
        assert_eq!(id.masked(), format!("{}****", &id.as_str()[..6]));
    }
    let masked = mask_raw_id(text);
    assert!(masked.ends_with("****") && masked.chars().count() <= 10);
    let once = redact(text);
    assert_eq!(redact(&once), once);
    for at in 0..once.len() {
        if let Some(window) = once.get(at..at + 10) {
            assert!(NationalId::parse(window).is_err() || window.ends_with("****"), "{window}");
        }
    }
});
