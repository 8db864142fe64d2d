//! S3 event notifications on 127.0.0.1. s3s-fs stores objects but sends
//! no events; this wraps it so that creating an object under the
//! prefixes the template subscribes (`uploads/…/*.csv`, `continuations/`)
//! produces the same `ObjectCreated` event JSON S3 sends to Lambda, and
//! hands it to whatever plays Lambda locally.

use std::path::PathBuf;

use s3s::dto::*;
use s3s::{S3, S3Request, S3Response, S3Result};
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedSender;

/// Whether the template's notification configuration sends an event to
/// the CSV import for this key.
pub fn subscribed(key: &str) -> bool {
    // S3's suffix filters are case-sensitive: `.csv` and `.CSV` only.
    (key.starts_with("uploads/") && (key.ends_with(".csv") || key.ends_with(".CSV")))
        || key.starts_with("continuations/")
}

/// s3s-fs, plus an event for every object created under a subscribed key.
pub struct Notifying {
    inner: s3s_fs::FileSystem,
    root: PathBuf,
    events: Option<UnboundedSender<Value>>,
}

impl Notifying {
    pub fn new(
        inner: s3s_fs::FileSystem,
        root: PathBuf,
        events: Option<UnboundedSender<Value>>,
    ) -> Self {
        Notifying {
            inner,
            root,
            events,
        }
    }

    fn created(&self, bucket: &str, key: &str, how: &str, etag: Option<&ETag>) {
        let Some(events) = self.events.as_ref().filter(|_| subscribed(key)) else {
            return;
        };
        let size = std::fs::metadata(self.root.join(bucket).join(key)).map_or(0, |m| m.len());
        let event = object_created(
            bucket,
            key,
            how,
            size,
            etag.map(ETag::value).unwrap_or_default(),
        );
        // Nobody listening (the stack shutting down) is not an error.
        let _ = events.send(event);
    }
}

/// The event S3 sends for a new object (the shape of
/// `sam local generate-event s3 put`).
pub fn object_created(bucket: &str, key: &str, how: &str, size: u64, etag: &str) -> Value {
    let now = chrono::Utc::now();
    json!({
        "Records": [{
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": crate::REGION,
            "eventTime": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "eventName": format!("ObjectCreated:{how}"),
            "userIdentity": { "principalId": "local" },
            "requestParameters": { "sourceIPAddress": "127.0.0.1" },
            "responseElements": {},
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "csv-import",
                "bucket": {
                    "name": bucket,
                    "ownerIdentity": { "principalId": "local" },
                    "arn": format!("arn:aws:s3:::{bucket}"),
                },
                "object": {
                    "key": encode_key(key),
                    "size": size,
                    "eTag": etag,
                    "sequencer": format!("{:016X}", now.timestamp_nanos_opt().unwrap_or_default()),
                },
            },
        }],
    })
}

/// Keys in events are URL-encoded, a space as `+`, slashes kept.
fn encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for byte in key.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(byte as char);
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// Passes an operation to s3s-fs. Spelled as `async_trait` expands an
/// `async fn`, because the attribute cannot see into a macro.
macro_rules! delegate {
    ($($method:ident($input:ty) -> $output:ty;)*) => {
        $(
            fn $method<'life0, 'async_trait>(
                &'life0 self,
                req: S3Request<$input>,
            ) -> std::pin::Pin<
                Box<dyn std::future::Future<Output = S3Result<S3Response<$output>>> + Send + 'async_trait>,
            >
            where
                'life0: 'async_trait,
                Self: 'async_trait,
            {
                Box::pin(self.inner.$method(req))
            }
        )*
    };
}

#[async_trait::async_trait]
impl S3 for Notifying {
    delegate! {
        create_bucket(CreateBucketInput) -> CreateBucketOutput;
        delete_bucket(DeleteBucketInput) -> DeleteBucketOutput;
        delete_object(DeleteObjectInput) -> DeleteObjectOutput;
        delete_objects(DeleteObjectsInput) -> DeleteObjectsOutput;
        get_bucket_location(GetBucketLocationInput) -> GetBucketLocationOutput;
        get_object(GetObjectInput) -> GetObjectOutput;
        head_bucket(HeadBucketInput) -> HeadBucketOutput;
        head_object(HeadObjectInput) -> HeadObjectOutput;
        list_buckets(ListBucketsInput) -> ListBucketsOutput;
        list_objects(ListObjectsInput) -> ListObjectsOutput;
        list_objects_v2(ListObjectsV2Input) -> ListObjectsV2Output;
        create_multipart_upload(CreateMultipartUploadInput) -> CreateMultipartUploadOutput;
        upload_part(UploadPartInput) -> UploadPartOutput;
        upload_part_copy(UploadPartCopyInput) -> UploadPartCopyOutput;
        list_parts(ListPartsInput) -> ListPartsOutput;
        abort_multipart_upload(AbortMultipartUploadInput) -> AbortMultipartUploadOutput;
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let response = self.inner.put_object(req).await?;
        self.created(&bucket, &key, "Put", response.output.e_tag.as_ref());
        Ok(response)
    }

    /// A browser's upload form (the API's presigned POST).
    async fn post_object(
        &self,
        req: S3Request<PostObjectInput>,
    ) -> S3Result<S3Response<PostObjectOutput>> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let response = self.inner.post_object(req).await?;
        self.created(&bucket, &key, "Post", response.output.e_tag.as_ref());
        Ok(response)
    }

    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let response = self.inner.copy_object(req).await?;
        let etag = response
            .output
            .copy_object_result
            .as_ref()
            .and_then(|r| r.e_tag.clone());
        self.created(&bucket, &key, "Copy", etag.as_ref());
        Ok(response)
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let mut response = self.inner.complete_multipart_upload(req).await?;
        // s3s-fs answers with a future (to keep the connection alive as S3
        // does); the object and its ETag exist once it resolves.
        if let Some(pending) = response.output.future.take() {
            response.output = pending.await?;
        }
        self.created(
            &bucket,
            &key,
            "CompleteMultipartUpload",
            response.output.e_tag.as_ref(),
        );
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_keys_as_s3_does() {
        assert_eq!(
            encode_key("uploads/376550000A/名單 2015.csv"),
            "uploads/376550000A/%E5%90%8D%E5%96%AE+2015.csv"
        );
    }

    #[test]
    fn follows_the_templates_subscription() {
        assert!(subscribed("uploads/376550000A/a.csv"));
        assert!(subscribed("uploads/376550000A/A.CSV"));
        assert!(subscribed("continuations/csv-1/000003.json"));
        assert!(!subscribed("reports/376550000A/csv-1/rejected.csv"));
        assert!(!subscribed("uploads/376550000A/a.xlsx"));
        assert!(
            !subscribed("uploads/376550000A/a.Csv"),
            "as S3: no such filter"
        );
    }
}
