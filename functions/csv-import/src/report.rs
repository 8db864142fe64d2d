//! What staff download after an import: the refused rows as CSV (UTF-8
//! with a BOM, so Excel shows the Chinese) and the summary as JSON, next to
//! each other under `reports/<agency>/<import id>/`.

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use dynamodb_store::Store;
use learning_core::import_log::{CsvImportEntry, CsvImportView};
use learning_core::spreadsheet::neutralise;

use crate::event::REPORTS;
use crate::{ImportError, s3_error};

/// S3 parts are at least 5 MiB; the report is sent in parts of this size.
const PART_BYTES: usize = 8 * 1024 * 1024;

/// The header of the rejection report.
pub const REPORT_HEADER: [&str; 5] = ["列號", "欄位", "內容", "代碼", "原因"];

/// Where the reports of an import go.
pub fn report_prefix(entry: &CsvImportEntry) -> String {
    format!(
        "{REPORTS}{}/{}/",
        entry.agency.as_ref().map_or("_unknown", |a| a.as_str()),
        entry.log_id
    )
}

/// Writes the rejection report (when a row was refused) and sets its key
/// on `entry`; then the summary, which is what staff see of `entry`
/// ([`CsvImportView`]).
pub async fn write(
    s3: &Client,
    store: &Store,
    entry: &mut CsvImportEntry,
) -> Result<(), ImportError> {
    let prefix = report_prefix(entry);
    if entry.counts.rejected > 0 {
        let key = format!("{prefix}rejected.csv");
        let mut upload = Upload::new(s3, &entry.file.bucket, &key, "text/csv; charset=utf-8");
        let mut buffer = b"\xEF\xBB\xBF".to_vec();
        write_rows(&mut buffer, [REPORT_HEADER.map(str::to_string)])?;
        let mut after = None;
        loop {
            let (rows, next) = store.rejections_page(&entry.log_id, after).await?;
            write_rows(
                &mut buffer,
                rows.iter().map(|row| {
                    [
                        row.line.to_string(),
                        row.column.clone().unwrap_or_default(),
                        neutralise(&row.value).into_owned(),
                        row.code.clone(),
                        neutralise(&row.message).into_owned(),
                    ]
                }),
            )?;
            if buffer.len() >= PART_BYTES {
                upload.part(std::mem::take(&mut buffer)).await?;
            }
            match next {
                Some(line) => after = Some(line),
                None => break,
            }
        }
        upload.finish(buffer).await?;
        entry.report_key = Some(key);
    }
    let key = format!("{prefix}summary.json");
    entry.summary_key = Some(key.clone());
    let summary = serde_json::to_vec_pretty(&CsvImportView::from(&*entry))
        .map_err(|e| ImportError::Report(e.into()))?;
    s3.put_object()
        .bucket(&entry.file.bucket)
        .key(&key)
        .content_type("application/json; charset=utf-8")
        .body(ByteStream::from(summary))
        .send()
        .await
        .map_err(|e| s3_error("PutObject", e))?;
    Ok(())
}

fn write_rows(
    buffer: &mut Vec<u8>,
    rows: impl IntoIterator<Item = [String; 5]>,
) -> Result<(), ImportError> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(buffer);
    for row in rows {
        writer
            .write_record(&row)
            .map_err(|e| ImportError::Report(e.into()))?;
    }
    writer.flush().map_err(|e| ImportError::Report(e.into()))
}

/// An object written in parts as it grows, or in one PUT when small.
struct Upload<'a> {
    s3: &'a Client,
    bucket: &'a str,
    key: &'a str,
    content_type: &'a str,
    id: Option<String>,
    parts: Vec<CompletedPart>,
}

impl<'a> Upload<'a> {
    fn new(s3: &'a Client, bucket: &'a str, key: &'a str, content_type: &'a str) -> Self {
        Upload {
            s3,
            bucket,
            key,
            content_type,
            id: None,
            parts: Vec::new(),
        }
    }

    async fn part(&mut self, bytes: Vec<u8>) -> Result<(), ImportError> {
        let id = match &self.id {
            Some(id) => id.clone(),
            None => {
                let created = self
                    .s3
                    .create_multipart_upload()
                    .bucket(self.bucket)
                    .key(self.key)
                    .content_type(self.content_type)
                    .send()
                    .await
                    .map_err(|e| s3_error("CreateMultipartUpload", e))?;
                let id = created.upload_id().unwrap_or_default().to_string();
                self.id = Some(id.clone());
                id
            }
        };
        let number = self.parts.len() as i32 + 1;
        let uploaded = self
            .s3
            .upload_part()
            .bucket(self.bucket)
            .key(self.key)
            .upload_id(&id)
            .part_number(number)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| s3_error("UploadPart", e))?;
        self.parts.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(uploaded.e_tag)
                .build(),
        );
        Ok(())
    }

    async fn finish(mut self, rest: Vec<u8>) -> Result<(), ImportError> {
        if self.id.is_none() {
            self.s3
                .put_object()
                .bucket(self.bucket)
                .key(self.key)
                .content_type(self.content_type)
                .body(ByteStream::from(rest))
                .send()
                .await
                .map_err(|e| s3_error("PutObject", e))?;
            return Ok(());
        }
        if !rest.is_empty() {
            self.part(rest).await?;
        }
        self.s3
            .complete_multipart_upload()
            .bucket(self.bucket)
            .key(self.key)
            .upload_id(self.id.as_deref().unwrap_or_default())
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(std::mem::take(&mut self.parts)))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| s3_error("CompleteMultipartUpload", e))?;
        Ok(())
    }
}
