//! Pausing an import that runs out of time: the entry released and a
//! continuation object left whose creation starts a fresh invocation. The
//! object is where to read on (byte and line), the header's layout and
//! the keys accepted so far: a JSON line, then the keys, 8 bytes each.

use aws_sdk_s3::primitives::ByteStream;
use learning_core::import_log::CsvImportEntry;
use tracing::info;

use super::{Handled, Importer, MAX_STALLED};
use crate::event::continuation_key;
use crate::rows::{Columns, Position, Resume};
use crate::{Encoding, FileCode, FileProblem, ImportError, s3_error};

/// Where a continuation reads on, as the paused invocation left it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(super) struct ResumeState {
    pub(super) log_id: String,
    /// Rows done at the checkpoint it belongs to.
    pub(super) rows: u64,
    pub(super) line: u64,
    pub(super) offset: u64,
    pub(super) encoding: String,
    pub(super) columns: String,
    /// The keys accepted so far follow the JSON line, 8 bytes each.
    pub(super) keys: usize,
}

/// What an invocation starts from: a continuation's state, with the keys.
pub(super) struct Resumed {
    pub(super) state: ResumeState,
    pub(super) keys: Vec<u64>,
}

impl Resumed {
    pub(super) fn to_bytes(&self) -> Vec<u8> {
        let mut body = serde_json::to_vec(&self.state).unwrap_or_default();
        body.push(b'\n');
        body.reserve(self.keys.len() * 8);
        for key in &self.keys {
            body.extend_from_slice(&key.to_le_bytes());
        }
        body
    }

    pub(super) fn from_bytes(body: &[u8]) -> Option<Resumed> {
        let end = body.iter().position(|&b| b == b'\n')?;
        let state: ResumeState = serde_json::from_slice(&body[..end]).ok()?;
        let keys: Vec<u64> = body[end + 1..]
            .chunks_exact(8)
            .map(|k| u64::from_le_bytes(k.try_into().unwrap_or_default()))
            .collect();
        (keys.len() == state.keys).then_some(Resumed { state, keys })
    }

    pub(super) fn resume(&self) -> Option<Resume> {
        Some(Resume {
            at: Position {
                line: self.state.line,
                offset: self.state.offset,
            },
            encoding: Encoding::from_label(&self.state.encoding)?,
            columns: Columns::from_line(&self.state.columns)?,
        })
    }
}

impl Importer {
    /// Releases the import and leaves a continuation for a fresh invocation.
    pub(super) async fn pause(
        &self,
        mut entry: CsvImportEntry,
        rows_before: u64,
        resumed: Option<Resumed>,
    ) -> Result<Handled, ImportError> {
        if entry.counts.rows == rows_before {
            entry.stalled += 1;
            if entry.stalled >= MAX_STALLED {
                let problem = FileProblem::new(
                    FileCode::Stalled,
                    format!(
                        "連續 {MAX_STALLED} 次執行都未能寫入任何資料，匯入停止；請通知系統管理者"
                    ),
                );
                return self.finish(entry, Some(problem)).await;
            }
        } else {
            entry.stalled = 0;
        }
        entry.release();
        self.store.put_csv_log(&mut entry).await?;
        let key = continuation_key(&entry.log_id, entry.seq);
        // Without a state (nothing read yet) the next one reads from the top.
        let body = resumed.map(|r| r.to_bytes()).unwrap_or_default();
        self.s3
            .put_object()
            .bucket(&entry.file.bucket)
            .key(&key)
            .content_type("application/octet-stream")
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| s3_error("PutObject", e))?;
        info!(
            log_id = entry.log_id,
            rows_done = entry.counts.rows,
            "time running short; continuing in a fresh invocation"
        );
        Ok(Handled::Continued(Box::new(entry)))
    }
}
