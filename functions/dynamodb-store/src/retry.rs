use std::time::Duration;

use learning_core::backoff::Backoff;

use crate::StoreError;

/// How batch calls retry the items DynamoDB leaves unprocessed when it
/// throttles: exponential backoff with full jitter, then a loud failure.
#[derive(Debug, Clone, Copy)]
pub struct BatchRetry {
    pub max_attempts: u32,
    pub base: Duration,
    pub cap: Duration,
    /// Batch calls in flight at once.
    pub concurrency: usize,
}

impl Default for BatchRetry {
    fn default() -> Self {
        BatchRetry {
            max_attempts: 10,
            base: Duration::from_millis(50),
            cap: Duration::from_secs(5),
            concurrency: 8,
        }
    }
}

impl BatchRetry {
    /// After a batch call left `remaining` items unprocessed: waits before
    /// the next try, or fails once the budget is spent.
    pub(crate) async fn again(
        &self,
        attempt: &mut u32,
        operation: &'static str,
        remaining: usize,
    ) -> Result<(), StoreError> {
        *attempt += 1;
        if *attempt >= self.max_attempts {
            return Err(StoreError::RetriesExhausted {
                operation,
                attempts: *attempt,
                remaining,
            });
        }
        let backoff = Backoff {
            base: self.base,
            cap: self.cap,
        };
        tokio::time::sleep(backoff.wait(*attempt)).await;
        Ok(())
    }
}
