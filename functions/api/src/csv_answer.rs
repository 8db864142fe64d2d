//! Answers as CSV files for Excel: UTF-8 with a BOM (Excel needs it to
//! read UTF-8), or Big5 on request (refused when a name has no CP950
//! code); every cell safe from formula injection.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use learning_core::spreadsheet::{neutralise, outside_cp950};

use crate::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvEncoding {
    Utf8,
    Big5,
}

/// `None` for JSON, or the CSV's encoding, from the `format` (`json`,
/// `csv`) and `encoding` (`utf8`, `big5`) query parameters.
pub fn choice(
    format: Option<&str>,
    encoding: Option<&str>,
) -> Result<Option<CsvEncoding>, ApiError> {
    match format {
        None | Some("json") => Ok(None),
        Some("csv") => match encoding {
            None | Some("utf8") => Ok(Some(CsvEncoding::Utf8)),
            Some("big5") => Ok(Some(CsvEncoding::Big5)),
            Some(_) => Err(ApiError::bad_request(
                "invalid_encoding",
                "encoding 須為 utf8 或 big5",
            )),
        },
        Some(_) => Err(ApiError::bad_request(
            "invalid_format",
            "format 須為 json 或 csv",
        )),
    }
}

/// A CSV file of `header` and `rows`, named `file_name` (ASCII).
pub fn file<I, R, S>(
    header: &[&str],
    rows: I,
    encoding: CsvEncoding,
    file_name: &str,
) -> Result<Response, ApiError>
where
    I: IntoIterator<Item = R>,
    R: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let failed = |e: csv::Error| ApiError::internal("csv_failed", e);
    writer.write_record(header).map_err(failed)?;
    for row in rows {
        writer
            .write_record(row.into_iter().map(|c| neutralise(c.as_ref()).into_owned()))
            .map_err(failed)?;
    }
    let text = writer
        .into_inner()
        .map_err(|e| failed(e.into_error().into()))?;
    let text = String::from_utf8(text).unwrap_or_default();
    let (bytes, charset) = match encoding {
        CsvEncoding::Utf8 => {
            let mut bytes = b"\xEF\xBB\xBF".to_vec();
            bytes.extend_from_slice(text.as_bytes());
            (bytes, "utf-8")
        }
        CsvEncoding::Big5 => {
            let (bytes, _, unmappable) = encoding_rs::BIG5.encode(&text);
            if unmappable || outside_cp950(&bytes) {
                return Err(ApiError::unprocessable(
                    "not_big5",
                    "有姓名或文字無法以 Big5 表示（如罕用字），請改下載 UTF-8 版本",
                    serde_json::Value::Null,
                ));
            }
            (bytes.into_owned(), "big5")
        }
    };
    let mut response = (StatusCode::OK, bytes).into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&format!("text/csv; charset={charset}")) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}.csv\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}
