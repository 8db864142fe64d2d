//! An S3 object as a blocking `Read` for the parser thread, fed by an
//! async task: memory stays a few chunks whatever the object's size, and a
//! connection that breaks mid-file is resumed with a ranged GET of the
//! same version.

use std::io::{self, Read};

use aws_sdk_s3::Client;
use bytes::Bytes;
use learning_core::import_log::UploadedFile;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::ImportError;

/// Chunks in flight between the download and the parser.
const CHUNKS_IN_FLIGHT: usize = 16;
/// Tries of a GET (the first included) before the import gives up.
const READ_ATTEMPTS: u32 = 4;

/// The reading end: blocks until the next chunk arrives.
pub struct ObjectReader {
    chunks: mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
}

impl Read for ObjectReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.chunks.blocking_recv() {
                Some(Ok(chunk)) => self.current = chunk,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// The object changed since the event: this version is gone.
#[derive(Debug)]
pub struct Replaced;

/// Starts downloading `file` from byte `from`. Fails at once when S3
/// cannot be reached or the object is no longer the version the event
/// announced.
pub async fn open(
    s3: &Client,
    file: &UploadedFile,
    from: u64,
) -> Result<Result<(ObjectReader, JoinHandle<Result<(), ImportError>>), Replaced>, ImportError> {
    let first = match get(s3, file, from).await? {
        Ok(body) => body,
        Err(replaced) => return Ok(Err(replaced)),
    };
    let (tx, rx) = mpsc::channel(CHUNKS_IN_FLIGHT);
    let s3 = s3.clone();
    let file = file.clone();
    let feeder = tokio::spawn(async move {
        let mut body = first;
        let mut offset = from;
        let mut attempt = 1;
        loop {
            match body.next().await {
                None => return Ok(()),
                Some(Ok(chunk)) => {
                    offset += chunk.len() as u64;
                    if tx.send(Ok(chunk)).await.is_err() {
                        // The parser stopped reading: nothing more to do.
                        return Ok(());
                    }
                }
                Some(Err(e)) if attempt < READ_ATTEMPTS => {
                    tracing::warn!(error = %e, offset, attempt, "S3 read broke; resuming with a ranged GET");
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(200 * u64::from(attempt)))
                        .await;
                    body = match get(&s3, &file, offset).await {
                        Ok(Ok(body)) => body,
                        Ok(Err(Replaced)) => {
                            let _ = tx.send(Err(io::Error::other("replaced"))).await;
                            return Err(ImportError::S3 {
                                operation: "GetObject",
                                message: "the object was replaced during the import".into(),
                                source: None,
                            });
                        }
                        Err(e) => {
                            let _ = tx.send(Err(io::Error::other(e.to_string()))).await;
                            return Err(e);
                        }
                    };
                }
                Some(Err(e)) => {
                    let _ = tx.send(Err(io::Error::other(e.to_string()))).await;
                    return Err(ImportError::S3 {
                        operation: "GetObject",
                        message: e.to_string(),
                        source: Some(Box::new(e)),
                    });
                }
            }
        }
    });
    Ok(Ok((
        ObjectReader {
            chunks: rx,
            current: Bytes::new(),
        },
        feeder,
    )))
}

/// One GET of the announced version from `offset` on.
async fn get(
    s3: &Client,
    file: &UploadedFile,
    offset: u64,
) -> Result<Result<aws_sdk_s3::primitives::ByteStream, Replaced>, ImportError> {
    let mut request = s3.get_object().bucket(&file.bucket).key(&file.key);
    request = match (&file.version_id, &file.etag) {
        (Some(version), _) => request.version_id(version),
        (None, Some(etag)) => request.if_match(format!("\"{etag}\"")),
        (None, None) => request,
    };
    if offset > 0 {
        request = request.range(format!("bytes={offset}-"));
    }
    let output = match request.send().await {
        Ok(output) => output,
        Err(e) => {
            let service = e.as_service_error();
            if service.is_some_and(|s| s.is_no_such_key())
                || e.raw_response().is_some_and(|r| r.status().as_u16() == 412)
            {
                return Ok(Err(Replaced));
            }
            return Err(crate::s3_error("GetObject", e));
        }
    };
    // Not every S3 honours If-Match: compare the ETag we got.
    let got = output.e_tag().map(|e| e.trim_matches('"'));
    if let (Some(expected), Some(got)) = (&file.etag, got)
        && expected != got
    {
        return Ok(Err(Replaced));
    }
    Ok(Ok(output.body))
}
