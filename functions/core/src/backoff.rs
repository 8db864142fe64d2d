//! How long to wait before trying again: exponential backoff with full
//! jitter (a random wait up to the step, which doubles per attempt up to a
//! cap), as AWS advises for every client that retries. One rule for the
//! portal client and the table's batch calls.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The step after the first failure's; it doubles per attempt.
    pub base: Duration,
    /// No step is longer.
    pub cap: Duration,
}

impl Backoff {
    /// The longest wait after `attempt` failures.
    pub fn step(&self, attempt: u32) -> Duration {
        self.base.saturating_mul(1 << attempt.min(16)).min(self.cap)
    }

    /// A random wait in `[0, step(attempt))`.
    pub fn wait(&self, attempt: u32) -> Duration {
        self.step(attempt).mul_f64(fastrand::f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_double_up_to_the_cap_and_waits_stay_under_them() {
        let backoff = Backoff {
            base: Duration::from_millis(50),
            cap: Duration::from_secs(5),
        };
        assert_eq!(backoff.step(1), Duration::from_millis(100));
        assert_eq!(backoff.step(2), Duration::from_millis(200));
        assert_eq!(backoff.step(7), Duration::from_secs(5));
        assert_eq!(backoff.step(u32::MAX), Duration::from_secs(5));
        let waits: Vec<Duration> = (0..200).map(|_| backoff.wait(3)).collect();
        assert!(waits.iter().all(|w| *w < backoff.step(3)));
        // Jitter: the waits spread out rather than all being one value.
        assert!(waits.iter().any(|w| *w != waits[0]));
    }
}
