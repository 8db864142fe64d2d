//! A CSV import's entry: the uploaded file, its counts, the checkpoint
//! the importer resumes from, and the view staff read of it.

use super::*;

/// The uploaded object a CSV import reads: one version of one key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadedFile {
    pub bucket: String,
    pub key: String,
    /// Set when the bucket keeps versions (it does in the cloud).
    pub version_id: Option<String>,
    /// The object's ETag without quotes; identifies the content when the
    /// bucket keeps no versions.
    pub etag: Option<String>,
    pub size: u64,
}

impl UploadedFile {
    /// The import's id: the same object version always gets the same id,
    /// so a repeated delivery finds the import it already made.
    pub fn log_id(&self) -> String {
        let identity = [
            self.bucket.as_str(),
            self.key.as_str(),
            self.version_id.as_deref().unwrap_or(""),
            self.etag.as_deref().unwrap_or(""),
        ];
        format!("csv-{:020}", fnv1a(&identity))
    }

    /// The file name staff gave it (the last part of the key).
    pub fn file_name(&self) -> &str {
        self.key.rsplit('/').next().unwrap_or(&self.key)
    }
}

/// What happened to the rows of one file. Always
/// `rows = inserted + updated + unchanged + rejected`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsvCounts {
    /// Data rows read (blank lines and the header are not rows).
    pub rows: u64,
    /// Records new to WebHR.
    pub inserted: u64,
    /// Records that replaced an earlier CSV import.
    pub updated: u64,
    /// Records that replaced one staff typed in by hand.
    #[serde(default)]
    pub replaced_staff: u64,
    /// Records already stored exactly so.
    pub unchanged: u64,
    /// Rows refused (listed in the rejection report, counted by reason in
    /// `reasons`).
    pub rejected: u64,
}

impl CsvCounts {
    pub fn imported(&self) -> u64 {
        self.inserted + self.updated + self.replaced_staff + self.unchanged
    }

    pub fn accounted(&self) -> u64 {
        self.imported() + self.rejected
    }
}

/// One import-log entry for one uploaded file. It is also the import's
/// checkpoint: rewritten every second or so with the counts of the batches
/// written so far, in file order, so a fresh invocation resumes after
/// `counts.rows`. Rows written after the checkpoint are written again on
/// resuming and count as they did the first time (each record keeps which
/// import wrote it and what that did), so `counts` matches the table.
/// Staff read it as a [`CsvImportView`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsvImportEntry {
    /// `csv-<hash of bucket, key, version>` (see [`UploadedFile::log_id`]).
    pub log_id: String,
    pub trigger: Trigger,
    pub file: UploadedFile,
    /// The agency of the upload prefix (`uploads/<agency>/...`), when valid.
    pub agency: Option<AgencyCode>,
    /// The import of an earlier version of the same key, when this is a
    /// re-upload.
    pub previous: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub status: RunStatus,
    /// `utf8_bom`, `utf8` or `big5`, once sniffed.
    pub encoding: Option<String>,
    pub counts: CsvCounts,
    /// Rejected rows by reason code.
    pub reasons: BTreeMap<String, u64>,
    /// Bytes of the file read so far (progress while running).
    pub bytes_done: u64,
    /// Invocations that worked on the file (1 unless it was continued).
    pub invocations: u32,
    /// Invocations in a row that committed no row (guards a loop).
    pub stalled: u32,
    /// Who holds the import, and until when: another delivery of the same
    /// object leaves it alone until then.
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    /// The entry's version: the store bumps it on every write and
    /// conditions the write on the previous value, so two invocations
    /// never both advance the import. 0 until first written.
    pub seq: u64,
    /// Why the file failed as a whole.
    pub error: Option<ErrorSummary>,
    /// S3 keys of the rejection report (CSV) and the summary (JSON).
    pub report_key: Option<String>,
    pub summary_key: Option<String>,
}

impl CsvImportEntry {
    /// Held by `invocation` until `until`: another delivery of the same
    /// object leaves the import alone until then (from the next write on).
    pub fn hold(&mut self, invocation: &str, until: DateTime<Utc>) {
        self.lease_owner = Some(invocation.to_string());
        self.lease_until = Some(until);
    }

    /// Let go (paused, failed, finished): free from the next write on.
    pub fn release(&mut self) {
        self.lease_owner = None;
        self.lease_until = None;
    }

    /// Ends the import at `now`, released: failed with `error` (what was
    /// wrong with the file), else failed when the file had no row or no
    /// row was imported, else partial when a row was refused, else
    /// succeeded.
    pub fn finish(&mut self, error: Option<ErrorSummary>, now: DateTime<Utc>) {
        let counts = self.counts;
        self.error = match error {
            Some(error) => Some(error),
            None if counts.rows == 0 => Some(ErrorSummary::new(
                "file_no_rows",
                "檔案只有標題列，沒有任何資料列",
            )),
            None if counts.imported() == 0 => Some(ErrorSummary::new(
                "no_rows_imported",
                "所有資料列都未通過檢查，沒有匯入任何紀錄；請依拒絕清單修正後重新上傳",
            )),
            None => None,
        };
        self.status = match (&self.error, counts.rejected) {
            (Some(_), _) => RunStatus::Failed,
            (None, 0) => RunStatus::Succeeded,
            (None, _) => RunStatus::Partial,
        };
        self.finished_at = Some(now);
        self.release();
    }

    pub fn start(file: UploadedFile, agency: Option<AgencyCode>, now: DateTime<Utc>) -> Self {
        CsvImportEntry {
            log_id: file.log_id(),
            trigger: Trigger::Upload,
            file,
            agency,
            previous: None,
            started_at: now,
            finished_at: None,
            status: RunStatus::Running,
            encoding: None,
            counts: CsvCounts::default(),
            reasons: BTreeMap::new(),
            bytes_done: 0,
            invocations: 1,
            stalled: 0,
            lease_owner: None,
            lease_until: None,
            seq: 0,
            error: None,
            report_key: None,
            summary_key: None,
        }
    }

    /// Counts one refused row under its reason.
    pub fn reject(&mut self, code: &str) {
        self.counts.rejected += 1;
        *self.reasons.entry(code.to_string()).or_default() += 1;
    }

    /// Rows refused for what they hold, which count toward the limit
    /// that stops an import: every refused row but those refused only
    /// for their change date being after the cutoff (the automatic import
    /// brings those), so an export spanning the cutoff is read whole and
    /// never has to be split.
    pub fn refused_for_content(&self) -> u64 {
        self.counts.rejected - self.reasons.get(AFTER_CUTOFF).copied().unwrap_or(0)
    }
}

/// The code of a CSV row refused only because its change date is after
/// the cutoff.
pub const AFTER_CUTOFF: &str = "after_cutoff";

/// What staff see of a CSV import, in the API and in the summary file next
/// to the upload. The entry's checkpoint (lease, `seq`, `stalled`,
/// invocations), the bucket and the S3 keys are the importer's own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsvImportView {
    pub log_id: String,
    pub trigger: Trigger,
    pub file: FileView,
    pub agency: Option<AgencyCode>,
    pub previous: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub status: RunStatus,
    pub encoding: Option<String>,
    pub counts: CsvCounts,
    pub reasons: BTreeMap<String, u64>,
    pub bytes_done: u64,
    pub error: Option<ErrorSummary>,
}

/// The uploaded file as staff name it: its key under `uploads/<agency>/`
/// and its size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileView {
    pub key: String,
    pub size: u64,
}

impl From<&CsvImportEntry> for CsvImportView {
    fn from(entry: &CsvImportEntry) -> Self {
        CsvImportView {
            log_id: entry.log_id.clone(),
            trigger: entry.trigger,
            file: FileView {
                key: entry.file.key.clone(),
                size: entry.file.size,
            },
            agency: entry.agency.clone(),
            previous: entry.previous.clone(),
            started_at: entry.started_at,
            finished_at: entry.finished_at,
            status: entry.status,
            encoding: entry.encoding.clone(),
            counts: entry.counts,
            reasons: entry.reasons.clone(),
            bytes_done: entry.bytes_done,
            error: entry.error.clone(),
        }
    }
}

/// One refused row of a CSV file, as the rejection report lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedRow {
    /// Line in the file, from 1 (the header is line 1).
    pub line: u64,
    /// The column's Chinese header, when one column is at fault.
    pub column: Option<String>,
    /// The cell as written, with IDs and names masked.
    pub value: String,
    pub code: String,
    /// In Traditional Chinese, for staff.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_import_ends_failed_partial_or_succeeded_by_what_its_rows_did() {
        let file = UploadedFile {
            bucket: "b".into(),
            key: "uploads/376550000A/a.csv".into(),
            version_id: None,
            etag: Some("e".into()),
            size: 1,
        };
        let now = Utc::now();
        let ended = |rows, inserted, rejected, error: Option<ErrorSummary>| {
            let mut entry = CsvImportEntry::start(file.clone(), None, now);
            entry.hold("invocation", now);
            entry.counts.rows = rows;
            entry.counts.inserted = inserted;
            entry.counts.rejected = rejected;
            entry.finish(error, now);
            assert!(entry.lease_owner.is_none() && entry.finished_at == Some(now));
            (entry.status, entry.error.map(|e| e.code))
        };
        let refused = ErrorSummary::new("file_too_large", "…");
        assert_eq!(
            ended(5, 5, 0, Some(refused)),
            (RunStatus::Failed, Some("file_too_large".into()))
        );
        assert_eq!(
            ended(0, 0, 0, None),
            (RunStatus::Failed, Some("file_no_rows".into()))
        );
        assert_eq!(
            ended(3, 0, 3, None),
            (RunStatus::Failed, Some("no_rows_imported".into()))
        );
        assert_eq!(ended(3, 2, 1, None), (RunStatus::Partial, None));
        assert_eq!(ended(3, 3, 0, None), (RunStatus::Succeeded, None));
    }
}
