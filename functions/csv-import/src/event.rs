//! From an S3 event to the work it asks for, and where files live in the
//! bucket.

use aws_lambda_events::event::s3::S3Event;
use learning_core::AgencyCode;
use learning_core::import_log::UploadedFile;

use crate::decode::{FileCode, FileProblem};

/// Staff upload under `uploads/<agency code>/`.
pub const UPLOADS: &str = "uploads/";
/// Reports are written under `reports/<agency code>/<import id>/`.
pub const REPORTS: &str = "reports/";
/// An import that ran out of time leaves `continuations/<import id>/<n>.resume`
/// here; its creation starts the next invocation.
pub const CONTINUATIONS: &str = "continuations/";

/// Where an import paused at `seq` leaves its continuation.
pub fn continuation_key(log_id: &str, seq: u64) -> String {
    format!("{CONTINUATIONS}{log_id}/{seq:06}.resume")
}

/// One piece of work from one event record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    /// A file was uploaded (or replaced).
    Import(UploadedFile),
    /// An import asks to be carried on (the object holds its id).
    Continue { bucket: String, key: String },
}

/// The jobs of an event, in order. Records of other kinds (deletions,
/// objects outside the prefixes) ask for nothing.
pub fn jobs(event: &S3Event) -> Vec<Job> {
    event
        .records
        .iter()
        .filter(|r| {
            r.event_name
                .as_deref()
                .is_none_or(|name| name.starts_with("ObjectCreated"))
        })
        .filter_map(|r| {
            let bucket = r.s3.bucket.name.clone()?;
            let key = decode_key(r.s3.object.key.as_deref()?);
            if key.starts_with(CONTINUATIONS) {
                return Some(Job::Continue { bucket, key });
            }
            if key.starts_with(REPORTS) {
                return None;
            }
            Some(Job::Import(UploadedFile {
                bucket,
                key,
                version_id: r.s3.object.version_id.clone().filter(|v| !v.is_empty()),
                etag: r
                    .s3
                    .object
                    .e_tag
                    .as_deref()
                    .map(|e| e.trim_matches('"').to_string())
                    .filter(|e| !e.is_empty()),
                size: r.s3.object.size.unwrap_or_default().max(0) as u64,
            }))
        })
        .collect()
}

/// Object keys in S3 events are URL-encoded, with `+` for a space.
pub fn decode_key(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// The agency a key belongs to: `uploads/<agency code>/<file>.csv`.
pub fn agency_of(key: &str) -> Result<AgencyCode, FileProblem> {
    let outside = || {
        FileProblem::new(
            FileCode::KeyOutsideUploads,
            format!(
                "檔案須上傳至 {UPLOADS}<機關代碼>/ 之下（如 {UPLOADS}376550000A/名單.csv），才能判斷所屬機關"
            ),
        )
    };
    let rest = key.strip_prefix(UPLOADS).ok_or_else(outside)?;
    let (agency, file) = rest.split_once('/').ok_or_else(outside)?;
    if file.is_empty() {
        return Err(outside());
    }
    AgencyCode::parse(agency).map_err(|e| {
        FileProblem::new(
            FileCode::InvalidAgencyPrefix,
            format!(
                "上傳路徑中的機關代碼「{}」不正確：{e}",
                agency.chars().take(20).collect::<String>()
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_event_keys() {
        assert_eq!(
            decode_key("uploads/376550000A/%E5%90%8D%E5%96%AE+2015.csv"),
            "uploads/376550000A/名單 2015.csv"
        );
        assert_eq!(decode_key("a%2Bb%"), "a+b%");
        assert_eq!(decode_key("100%zz"), "100%zz");
    }

    #[test]
    fn finds_the_agency_of_a_key() {
        assert_eq!(
            agency_of("uploads/376550000A/x.csv").unwrap().as_str(),
            "376550000A"
        );
        assert_eq!(agency_of("x.csv").unwrap_err().code, "key_outside_uploads");
        assert_eq!(
            agency_of("uploads/x.csv").unwrap_err().code,
            "key_outside_uploads"
        );
        assert_eq!(
            agency_of("uploads/../x.csv").unwrap_err().code,
            "invalid_agency_prefix"
        );
    }

    #[test]
    fn reads_jobs_from_an_event() {
        let event: S3Event =
            serde_json::from_str(include_str!("../../../tests/events/s3-put.json")).unwrap();
        let jobs = jobs(&event);
        assert_eq!(jobs.len(), 1);
        let Job::Import(file) = &jobs[0] else {
            panic!("an import")
        };
        assert_eq!(file.bucket, "webhr-uploads-local");
        assert_eq!(file.key, "uploads/376550000A/名單 2015.csv");
        assert_eq!(file.size, 1024);
        assert_eq!(
            file.etag.as_deref(),
            Some("0123456789abcdef0123456789abcdef")
        );
    }
}
