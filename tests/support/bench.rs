//! What the benchmarks share.

use std::time::Instant;

use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use futures::{StreamExt, TryStreamExt, stream};

use super::Item;

/// Peak resident memory of this process so far (VmHWM), in MiB.
pub fn peak_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// The baseline load: `items` with plain BatchWriteItem, 25 a call and
/// 8 calls in flight (as the sync runs them); items/s.
pub async fn raw_batch_write(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    items: &[Item],
) -> f64 {
    let started = Instant::now();
    stream::iter(items.chunks(25))
        .map(|chunk| {
            let mut pending: Vec<WriteRequest> = chunk
                .iter()
                .map(|item| {
                    let put = PutRequest::builder().set_item(Some(item.clone())).build();
                    WriteRequest::builder()
                        .put_request(put.expect("put"))
                        .build()
                })
                .collect();
            async move {
                while !pending.is_empty() {
                    let out = client
                        .batch_write_item()
                        .request_items(table, pending)
                        .send()
                        .await?;
                    pending = out
                        .unprocessed_items
                        .unwrap_or_default()
                        .remove(table)
                        .unwrap_or_default();
                }
                Ok::<_, aws_sdk_dynamodb::error::SdkError<_, _>>(())
            }
        })
        .buffer_unordered(8)
        .try_collect::<()>()
        .await
        .expect("raw load");
    items.len() as f64 / started.elapsed().as_secs_f64()
}
