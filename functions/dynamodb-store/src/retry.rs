use std::time::Duration;

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
    pub(crate) async fn pause(&self, attempt: u32) {
        let step = self.base.saturating_mul(1 << attempt.min(16)).min(self.cap);
        tokio::time::sleep(step.mul_f64(fastrand::f64())).await;
    }
}
