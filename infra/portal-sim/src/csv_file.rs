//! Large, realistic passed-learner CSV files (學員通過認證名單) as agencies
//! export them from the portal: the DOMAIN.md columns with Chinese headers,
//! ROC dates, CRLF line ends, in UTF-8 (with BOM) or Big5.

use std::io::Write;

use chrono::{Duration, NaiveDate};
use learning_core::roc_date::format_roc;

use crate::data::{DataConfig, Generator, WireRecord};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvEncoding {
    Utf8Bom,
    Big5,
}

pub const HEADER: &str = "身分證字號,姓名,出生日期,服務機關代碼,服務機關名稱,課程代碼,課程名稱,課程類別代碼,學習機構,期別,開課起始日期,開課結束日期,學習性質,數位時數,實體時數,認證時數,學習資料狀態,通過日期,異動日期";

fn roc(iso: &str) -> String {
    iso.parse::<NaiveDate>()
        .ok()
        .and_then(|d| format_roc(d).ok())
        .unwrap_or_default()
}

fn line(r: &WireRecord) -> String {
    let quote = |s: &str| {
        if s.contains([',', '"']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    [
        r.id_no.clone(),
        r.name.clone(),
        roc(r.birth_date.as_deref().unwrap_or_default()),
        r.org_code.clone(),
        quote(&r.org_name),
        r.course_code.clone(),
        quote(&r.course_name),
        r.category_code.clone(),
        quote(&r.provider),
        r.term.to_string(),
        roc(&r.start_date),
        roc(&r.end_date),
        r.mode.to_string(),
        r.digital_hours.clone(),
        r.physical_hours.clone(),
        r.total_hours.clone(),
        "通過".to_string(),
        roc(r.passed_date.as_deref().unwrap_or_default()),
        roc(&r.changed_date),
    ]
    .join(",")
}

/// Writes `rows` records of one agency, all passed before `until`, walking
/// back day by day from it; the same seed gives the same file.
pub fn write_csv(
    out: impl Write,
    rows: u64,
    encoding: CsvEncoding,
    agency: (&str, &str),
    until: NaiveDate,
    seed: u64,
) -> std::io::Result<()> {
    let generator = Generator::new(DataConfig {
        seed,
        per_day: 400,
        ..DataConfig::default()
    });
    let mut records = Vec::new();
    let mut day = until;
    while (records.len() as u64) < rows {
        for index in 0..generator.count_on(day) {
            if records.len() as u64 == rows {
                break;
            }
            let mut record = generator.original(day, index);
            record.org_code = agency.0.to_string();
            record.org_name = agency.1.to_string();
            records.push(record);
        }
        day -= Duration::days(1);
    }
    write_records(out, &records, encoding)
}

/// Writes `records` as the portal's export file: the header, then one
/// line each, in `encoding`.
pub fn write_records(
    mut out: impl Write,
    records: &[WireRecord],
    encoding: CsvEncoding,
) -> std::io::Result<()> {
    let mut put = |text: &str| -> std::io::Result<()> {
        match encoding {
            CsvEncoding::Utf8Bom => out.write_all(text.as_bytes()),
            CsvEncoding::Big5 => out.write_all(&encoding_rs::BIG5.encode(text).0),
        }
    };
    if encoding == CsvEncoding::Utf8Bom {
        put("\u{feff}")?;
    }
    put(HEADER)?;
    put("\r\n")?;
    for record in records {
        put(&line(record))?;
        put("\r\n")?;
    }
    out.flush()
}
