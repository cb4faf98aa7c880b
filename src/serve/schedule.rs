//! The clock `serve`'s schedules read. Tests use [`TokioClock`] with tokio's
//! paused clock, so a schedule can fire twice without waiting for it.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

pub use crate::plan::schedule::{Schedule, Zone, parse_timezone, suggest_timezone};

/// Where the scheduler reads the time. Tests use [`TokioClock`] with tokio's
/// paused clock, so a schedule can fire twice without waiting for it.
pub trait Clock: Send + Sync {
    fn now(&self) -> SystemTime;
}

/// The system's wall clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A wall clock that starts at `base` and advances with tokio's clock (which
/// a test can pause and move forward).
pub struct TokioClock {
    base: SystemTime,
    start: tokio::time::Instant,
}

impl TokioClock {
    pub fn new(base: SystemTime) -> Self {
        TokioClock {
            base,
            start: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> SystemTime {
        self.base + self.start.elapsed()
    }
}

/// How long to sleep from `now` until `next` (zero if it is already past).
pub fn wait_until(now: SystemTime, next: SystemTime) -> Duration {
    next.duration_since(now).unwrap_or(Duration::ZERO)
}

/// The clock the scheduler uses, shared by every chain's loop.
pub type SharedClock = Arc<dyn Clock>;

#[cfg(test)]
mod tests {
    use super::*;

    fn at(rfc3339: &str) -> SystemTime {
        rfc3339
            .parse::<jiff::Timestamp>()
            .expect("test time")
            .into()
    }

    #[test]
    fn waits_are_never_negative() {
        let now = at("2024-05-01T10:00:00Z");
        assert_eq!(
            wait_until(now, at("2024-05-01T10:00:05Z")),
            Duration::from_secs(5)
        );
        assert_eq!(wait_until(now, at("2024-05-01T09:00:00Z")), Duration::ZERO);
    }
}
