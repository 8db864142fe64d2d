//! Files as agencies upload them: three encodings, any column order, and
//! every kind of bad row and bad file.

use chrono::NaiveDate;
use csv_rows::{Encoding, FileProblem, OpenError, RowOutcome, open};
use learning_core::AgencyCode;

const HEADER: &str = "身分證字號,姓名,出生日期,服務機關代碼,服務機關名稱,課程代碼,課程名稱,課程類別代碼,學習機構,期別,開課起始日期,開課結束日期,學習性質,數位時數,實體時數,認證時數,學習資料狀態,通過日期,異動日期";

/// One row per case, in file order (line 2 onward).
const ROWS: &[&str] = &[
    "A123456789,林怡君,0750412,376550000A,範例市政府人事處,EC10400123,\"性別主流化,基礎課程\",3A,e等公務園+,1,1041201,1041210,1,2.0,0.0,2.0,通過,1041215,1041231",
    "F228035170,王明,0700101,376550000A,範例市政府人事處,EC10500001,資訊安全通識,5D,e等公務園+,1,1041228,1041230,1,1.5,0,1.5,通過,1041231,1050101",
    "A123456780,陳家豪,0700101,376550000A,範例市政府人事處,EC10400124,公務倫理與廉政,1A,e等公務園+,1,1041101,1041102,2,0,3.0,3.0,通過,1041103,1041104",
    "F228035170,王明,0700101,379000000A,臺北市政府人事處,EC10400125,公文寫作技巧,4D,e等公務園+,1,2015-10-01,2015-10-02,2,0,3,3,通過,2015-10-03,2015-10-04",
    "A123456789,林怡君,0750412,376550000A,範例市政府人事處,EC10400123,\"性別主流化,基礎課程\",3A,e等公務園+,1,1041201,1041210,1,2.0,0.0,2.0,通過,1041215,1041231",
    "F228035170,王明,0700101,376550000A,範例市政府人事處,EC10400126,人權兩公約導論,1B,e等公務園+,2,1040901,1040902,1,1,0,1,退回,,1040905",
    "F228035170,王明,0700101,376550000A,範例市政府人事處,EC10400127,災害防救概論,2C,e等公務園+,1,104/9/1,104/9/2,3,1.0,1.0,2.5,通過,104/9/3,104/9/4",
    "F228035170,王明,0700101,376550000A,範例市政府人事處,EC10400128,行政程序法,2C,e等公務園+,1,1041001,1041002,2,0,1.0,1.0,通過,1041105,1041104",
];

/// What each row must come to: accepted, or the code it is refused with.
const EXPECTED: &[&str] = &[
    "accepted",
    "after_cutoff",
    "national_id_checksum",
    "other_agency",
    "duplicate_in_file",
    "status_not_passed",
    "hours_total_mismatch",
    "passed_after_change",
];

fn cutoff() -> NaiveDate {
    NaiveDate::from_ymd_opt(2015, 12, 31).unwrap()
}

fn agency() -> AgencyCode {
    AgencyCode::parse("376550000A").unwrap()
}

fn file(line_end: &str) -> String {
    let mut text = String::from(HEADER);
    for row in ROWS {
        text.push_str(line_end);
        text.push_str(row);
    }
    text.push_str(line_end);
    text
}

fn outcomes(bytes: &[u8]) -> Result<(Encoding, Vec<RowOutcome>), FileProblem> {
    let rows = match open(bytes, cutoff(), agency()) {
        Ok(rows) => rows,
        Err(OpenError::Refused(problem)) => return Err(problem),
        Err(OpenError::Read(e)) => panic!("bytes in memory always read: {e}"),
    };
    let encoding = rows.encoding;
    let all = rows
        .collect::<Result<Vec<_>, _>>()
        .expect("bytes in memory always read");
    Ok((encoding, all))
}

fn codes(outcomes: &[RowOutcome]) -> Vec<&str> {
    outcomes
        .iter()
        .map(|o| match o {
            RowOutcome::Accepted(_) => "accepted",
            RowOutcome::Rejected(r) => r.code,
        })
        .collect()
}

#[test]
fn the_same_rows_come_out_the_same_in_every_encoding() {
    let utf8 = file("\n").into_bytes();
    let bom = [b"\xEF\xBB\xBF".as_slice(), file("\r\n").as_bytes()].concat();
    let text = file("\r\n");
    let (big5, _, unmappable) = encoding_rs::BIG5.encode(&text);
    assert!(!unmappable);
    for (bytes, want) in [
        (utf8, Encoding::Utf8),
        (bom, Encoding::Utf8Bom),
        (big5.into_owned(), Encoding::Big5),
    ] {
        let (encoding, rows) = outcomes(&bytes).unwrap();
        assert_eq!(encoding, want);
        assert_eq!(codes(&rows), EXPECTED, "{want:?}");
        let RowOutcome::Accepted(first) = &rows[0] else {
            panic!("row 2 accepted")
        };
        assert_eq!(first.name, "林怡君");
        assert_eq!(first.course_name, "性別主流化,基礎課程");
        assert_eq!(first.changed_date, cutoff());
    }
}

#[test]
fn rejections_say_where_and_why_with_personal_data_masked() {
    let (_, rows) = outcomes(file("\r\n").as_bytes()).unwrap();
    let rejected: Vec<_> = rows
        .iter()
        .filter_map(|o| match o {
            RowOutcome::Rejected(r) => Some(r),
            RowOutcome::Accepted(_) => None,
        })
        .collect();
    let bad_id = rejected
        .iter()
        .find(|r| r.code == "national_id_checksum")
        .unwrap();
    assert_eq!(bad_id.line, 4);
    assert_eq!(bad_id.column, Some("身分證字號"));
    assert_eq!(bad_id.value, "A12345****");
    let late = rejected.iter().find(|r| r.code == "after_cutoff").unwrap();
    assert_eq!((late.line, late.column), (3, Some("異動日期")));
    assert!(
        late.message.contains("1050101") && late.message.contains("1041231"),
        "{}",
        late.message
    );
    assert!(late.message.contains("自動入檔"), "{}", late.message);
    let duplicate = rejected
        .iter()
        .find(|r| r.code == "duplicate_in_file")
        .unwrap();
    assert_eq!(duplicate.line, 6);
    for r in &rejected {
        for secret in ["A123456789", "F228035170", "A123456780", "林怡君", "陳家豪"] {
            assert!(
                !r.value.contains(secret) && !r.message.contains(secret),
                "{r:?}"
            );
        }
    }
}

#[test]
fn english_headers_in_any_order_are_read() {
    let header = "changed_date,passed_date,status,total_hours,physical_hours,digital_hours,mode,end_date,start_date,term,course_name,course_code,org_name,org_code,name,id_no";
    let row = "2015-12-31,2015-12-20,passed,2.0,0,2.0,1,2015-12-10,2015-12-01,1,課程,EC1,機關,376550000A,林怡君,A123456789";
    let (_, rows) = outcomes(format!("{header}\r\n{row}\r\n").as_bytes()).unwrap();
    assert_eq!(codes(&rows), ["accepted"]);
}

#[test]
fn a_file_missing_columns_is_refused_naming_them() {
    let header = HEADER.replace(",認證時數", "").replace("期別,", "");
    let err = outcomes(format!("{header}\n").as_bytes())
        .map(|_| ())
        .unwrap_err();
    assert_eq!(err.code, "missing_columns");
    assert!(
        err.message.contains("期別") && err.message.contains("認證時數"),
        "{}",
        err.message
    );
    let err = outcomes(ROWS[0].as_bytes()).map(|_| ()).unwrap_err();
    assert_eq!(err.code, "header_missing");
}

#[test]
fn bad_files_are_refused_whole() {
    for (bytes, code) in [
        (b"".as_slice(), "file_empty"),
        (b"\xEF\xBB\xBF", "file_empty"),
        (b"PK\x03\x04\x14\x00\x06\x00", "file_is_zip"),
        (b"\x00\x01\x02\x03binary", "file_binary"),
    ] {
        assert_eq!(outcomes(bytes).map(|_| ()).unwrap_err().code, code);
    }
    let (_, rows) = outcomes(format!("{HEADER}\r\n\r\n").as_bytes()).unwrap();
    assert!(rows.is_empty(), "a header-only file has no rows");
}

#[test]
fn an_agency_made_character_refuses_only_its_row() {
    let mut bytes = encoding_rs::BIG5
        .encode(&format!("{HEADER}\r\n{}\r\n", ROWS[0]))
        .0
        .into_owned();
    let mut second = encoding_rs::BIG5
        .encode(&ROWS[6].replace("王明", "王"))
        .0
        .into_owned();
    // An agency's own glyph (CP950 user-defined area) after 王.
    let at = second
        .windows(2)
        .position(|w| w == encoding_rs::BIG5.encode("王").0.as_ref())
        .unwrap()
        + 2;
    second.splice(at..at, [0xFA, 0x41]);
    bytes.extend_from_slice(&second);
    bytes.extend_from_slice(b"\r\n");
    let (encoding, rows) = outcomes(&bytes).unwrap();
    assert_eq!(encoding, Encoding::Big5);
    assert_eq!(codes(&rows), ["accepted", "undecodable"]);
    let RowOutcome::Rejected(r) = &rows[1] else {
        unreachable!()
    };
    assert_eq!((r.line, r.column), (3, Some("姓名")));
}

#[test]
fn one_ten_megabyte_line_is_refused_without_trouble() {
    let long = "x".repeat(10 * 1024 * 1024);
    let text = format!("{HEADER}\n{long}\n{}\n", ROWS[0]);
    let (_, rows) = outcomes(text.as_bytes()).unwrap();
    assert_eq!(codes(&rows), ["row_too_long", "accepted"]);
}

#[test]
fn line_numbers_are_the_lines_staff_see_despite_blank_lines_and_crlf() {
    // A CR alone (old Mac files) ends a line too: found by fuzzing, when
    // two refused rows shared one line number.
    for end in ["\r\n", "\n", "\r"] {
        let text = format!(
            "{HEADER}{end}{end}{}{end},,,,{end}\"{}\"{end}{}{end}",
            ROWS[0], "多行\n備註", ROWS[2]
        );
        let (_, rows) = outcomes(text.as_bytes()).unwrap();
        assert_eq!(codes(&rows)[0], "accepted");
        let lines: Vec<u64> = rows
            .iter()
            .filter_map(|o| match o {
                RowOutcome::Accepted(_) => None,
                RowOutcome::Rejected(r) => Some(r.line),
            })
            .collect();
        // The row with a two-line cell starts on line 5; the bad ID is on
        // line 7.
        assert_eq!(lines, [5, 7], "{end:?}");
    }
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn on_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            if let Ok(rows) = open(bytes.as_slice(), cutoff(), agency()) {
                for row in rows {
                    let _ = row;
                }
            }
        }

        #[test]
        fn on_a_damaged_file_nothing_against_the_rules_is_accepted(
            cuts in proptest::collection::vec((0usize..2000, any::<u8>()), 0..20)
        ) {
            let mut bytes = file("\r\n").into_bytes();
            let header_end = HEADER.len();
            for (at, byte) in cuts {
                let at = header_end + at % (bytes.len() - header_end);
                bytes[at] = byte;
            }
            if let Ok(rows) = open(bytes.as_slice(), cutoff(), agency()) {
                for outcome in rows.filter_map(Result::ok) {
                    if let RowOutcome::Accepted(r) = outcome {
                        prop_assert!(r.changed_date <= cutoff());
                        prop_assert_eq!(&r.org_code, &agency());
                        prop_assert!(r.status.is_passed());
                        prop_assert_eq!(r.digital_hours.checked_add(r.physical_hours), Some(r.total_hours));
                    }
                }
            }
        }
    }
}

#[test]
fn a_big5_name_far_below_an_ascii_start_is_still_big5() {
    let header = "id_no,name,org_code,org_name,course_code,course_name,term,start_date,end_date,mode,digital_hours,physical_hours,total_hours,status,passed_date,changed_date";
    let ascii_row = |i: usize| {
        format!(
            "A123456789,Lin,376550000A,Agency,C{i:05},Course,1,2015-01-01,2015-01-02,1,1,0,1,passed,2015-01-03,2015-01-04"
        )
    };
    let mut text = String::from(header);
    for i in 0..200 {
        text.push_str("\r\n");
        text.push_str(&ascii_row(i));
    }
    text.push_str("\r\nA123456789,林怡君,376550000A,範例機關,C99999,課程,1,2015-01-01,2015-01-02,1,1,0,1,通過,2015-01-03,2015-01-04\r\n");
    assert!(
        text.find('林').unwrap() > 16 * 1024,
        "the first Chinese is far down"
    );
    let bytes = encoding_rs::BIG5.encode(&text).0.into_owned();
    let (encoding, rows) = outcomes(&bytes).unwrap();
    assert_eq!(encoding, Encoding::Big5);
    assert_eq!(rows.len(), 201);
    let RowOutcome::Accepted(last) = rows.last().unwrap() else {
        panic!("the Big5 row is accepted")
    };
    assert_eq!(last.name, "林怡君");
}

#[test]
fn an_unclosed_quote_costs_the_lines_it_swallows_not_the_rest_of_the_file() {
    // Line 2 opens a quote it never closes. Without a limit on bytes the
    // csv reader would take the rest of the file as one field, in memory;
    // with it, the row is cut at 64 KiB, refused with the lines it spans,
    // and every line after the cut is read as usual.
    // The rows hold no other quote that could close it.
    let row = ROWS[0].replacen("\"性別主流化,基礎課程\"", "性別主流化基礎課程", 1);
    let broken = row.replacen(",林怡君,", ",\"林怡君,", 1);
    let rows = 3000;
    let mut text = format!("{HEADER}\n{broken}\n");
    for i in 0..rows {
        text.push_str(&row.replacen("EC10400123", &format!("EC1{i:07}"), 1));
        text.push('\n');
    }
    let (_, outcomes) = outcomes(text.as_bytes()).unwrap();
    let RowOutcome::Rejected(cut) = &outcomes[0] else {
        panic!("the broken row is refused")
    };
    assert_eq!((cut.code, cut.line), ("row_too_long", 2));
    let last_swallowed: u64 = cut
        .message
        .split("第 2 至 ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the message names the lines: {}", cut.message));
    // 64 KiB of rows of ~170 bytes: a few hundred lines, not 3,000.
    assert!((300..500).contains(&last_swallowed), "{last_swallowed}");
    let accepted: Vec<u64> = outcomes[1..]
        .iter()
        .map(|o| match o {
            RowOutcome::Accepted(_) => 0,
            RowOutcome::Rejected(r) => panic!("line {}: {}", r.line, r.code),
        })
        .collect();
    // Every line after the swallowed ones is a row of its own.
    assert_eq!(accepted.len() as u64, rows + 2 - last_swallowed);
}

#[test]
fn quotes_in_and_around_fields_are_followed_as_the_csv_reader_does() {
    // Doubled quotes, a quote inside an unquoted field and a line end in a
    // quoted field (an extra column's, which is ignored): none of them may
    // throw the limit's count off, so a file of such rows reads as before.
    let row = ROWS[0]
        .replacen("e等公務園+", "\"e等\"\"公務園\"\"+\"", 1)
        .replacen("範例市政府人事處", "範例市\"政府\"人事處", 1)
        + ",\"備註,\n第二行\"";
    let text = format!("{HEADER}\n{row}\n{}\n", ROWS[2]);
    let (_, rows) = outcomes(text.as_bytes()).unwrap();
    assert_eq!(codes(&rows), ["accepted", "national_id_checksum"]);
    let RowOutcome::Rejected(r) = &rows[1] else {
        unreachable!()
    };
    assert_eq!(r.line, 4, "the multi-line cell counts as two lines");
}

/// The outcomes from row `k` on, read by a reader that resumes at row
/// `k`'s start with the keys accepted before it.
fn resumed_at(bytes: &[u8], k: usize) -> Vec<RowOutcome> {
    let mut rows = open(bytes, cutoff(), agency()).unwrap();
    let mut seen = Vec::new();
    for _ in 0..k {
        if let Some(Ok(RowOutcome::Accepted(record))) = rows.next() {
            seen.push(csv_rows::key_hash(&record));
        }
    }
    // The position is known once the row is read: read it, then resume
    // from its start as a fresh invocation would.
    if rows.next().is_none() {
        return Vec::new();
    }
    let resume = csv_rows::Resume {
        at: rows.start(),
        encoding: rows.encoding,
        columns: rows.columns.clone(),
    };
    let columns = csv_rows::Columns::from_line(&resume.columns.to_line()).unwrap();
    assert_eq!(columns, resume.columns, "the layout survives its line");
    let from = resume.at.offset as usize;
    csv_rows::resume(&bytes[from..], resume, seen, cutoff(), agency())
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn a_reader_resumed_at_any_row_reads_on_exactly_as_one_that_never_stopped() {
    // CRLF, a CR alone, blank lines, a two-line cell, a BOM and Big5, a
    // cut row, and the duplicate of a row read before the resume.
    let long = "x".repeat(70 * 1024);
    let text = format!(
        "{HEADER}\r\n\r\n{}\r\n\"{}\"\r{long}\n{}\n\n{}\r\n{}\r\n",
        ROWS[0], "多行\n備註", ROWS[2], ROWS[6], ROWS[4]
    );
    let mut utf8_bom = b"\xEF\xBB\xBF".to_vec();
    utf8_bom.extend_from_slice(text.as_bytes());
    let big5 = encoding_rs::BIG5.encode(&text).0.into_owned();
    for bytes in [text.into_bytes(), utf8_bom, big5] {
        let (_, all) = outcomes(&bytes).unwrap();
        assert!(codes(&all).contains(&"duplicate_in_file"));
        assert!(codes(&all).contains(&"row_too_long"));
        for k in 0..all.len() {
            assert_eq!(resumed_at(&bytes, k), all[k..], "resumed at row {k}");
        }
    }
}
