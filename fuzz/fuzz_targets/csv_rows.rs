//! A whole uploaded file, any bytes: no panic; every row ends accepted or
//! refused with a code and a message, refused rows in file order.
#![no_main]

use chrono::NaiveDate;
use csv_rows::{RowOutcome, open};
use learning_core::AgencyCode;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let cutoff = NaiveDate::from_ymd_opt(2015, 12, 31).unwrap();
    let agency = AgencyCode::parse("376550000A").unwrap();
    let Ok(rows) = open(data, cutoff, agency) else {
        return;
    };
    let mut last_line = 0;
    for outcome in rows {
        match outcome {
            Ok(RowOutcome::Accepted(record)) => {
                assert!(record.changed_date <= cutoff, "accepted after the cutoff");
            }
            Ok(RowOutcome::Rejected(rejection)) => {
                assert!(!rejection.code.is_empty() && !rejection.message.is_empty());
                assert!(rejection.line > last_line, "rows out of order");
                last_line = rejection.line;
            }
            Err(error) => panic!("bytes in memory always read: {error}"),
        }
    }
});
