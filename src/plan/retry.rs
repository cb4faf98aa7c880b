//! The retry policy (SPEC §3) as a pure function: given what an attempt
//! produced, how long to wait before the next one, or stop. No clock, no
//! randomness inside: the caller passes "now" and a jitter sample, so every
//! rule here is unit-tested.

use std::sync::{Arc, LazyLock};
use std::time::{Duration, SystemTime};

use crate::chain::model::RetryOn;

/// Methods retried without the chain asking (RFC 9110 §9.2.2 idempotent methods).
pub const IDEMPOTENT: &[&str] = &["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"];

/// [`IDEMPOTENT`] as the list a policy keeps (one copy for every step).
pub fn idempotent_methods() -> Arc<[String]> {
    static LIST: LazyLock<Arc<[String]>> =
        LazyLock::new(|| IDEMPOTENT.iter().map(|m| m.to_string()).collect());
    Arc::clone(&LIST)
}

/// Conditions retried when the chain does not say: SPEC §3's default policy.
pub const DEFAULT_ON: &[RetryOn] = &[
    RetryOn::Connect,
    RetryOn::Timeout,
    RetryOn::Status(429),
    RetryOn::Status(502),
    RetryOn::Status(503),
    RetryOn::Status(504),
];

/// A step's resolved retry policy.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Total attempts, the first included (≥ 1).
    pub attempts: u32,
    pub backoff: Duration,
    pub max_backoff: Duration,
    pub factor: f64,
    pub jitter: bool,
    pub on: Vec<RetryOn>,
    /// Upper-case method names that may be retried; `None` means any.
    /// Shared: most steps have the default list, built once.
    pub methods: Option<Arc<[String]>>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 3,
            backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(30),
            factor: 2.0,
            jitter: true,
            on: DEFAULT_ON.to_vec(),
            methods: Some(idempotent_methods()),
        }
    }
}

/// What one attempt produced, as far as retrying is concerned.
#[derive(Debug, Clone, Copy)]
pub enum Attempt<'a> {
    /// A response arrived. `retry_after` is the raw `Retry-After` header.
    Status {
        code: u16,
        retry_after: Option<&'a str>,
    },
    Connect,
    Timeout,
    /// Any other failure (TLS, bad request…): never retried.
    Fatal,
}

/// The policy's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Wait this long, then try again.
    Retry(Duration),
    /// Do not retry; the reason, when a retry was considered and refused.
    Stop(Option<String>),
}

/// Decides what follows attempt number `attempt` (1-based) of a `method` request.
/// `jitter_sample` is a number in [0, 1); `now` is used for HTTP-date `Retry-After`.
pub fn decide(
    policy: &RetryPolicy,
    method: &str,
    attempt: u32,
    outcome: Attempt<'_>,
    now: SystemTime,
    jitter_sample: f64,
) -> Decision {
    let matches = match outcome {
        Attempt::Status { code, .. } => policy.on.iter().any(|c| match *c {
            RetryOn::Status(s) => s == code,
            RetryOn::Class(k) => code / 100 == k,
            _ => false,
        }),
        Attempt::Connect => policy.on.contains(&RetryOn::Connect),
        Attempt::Timeout => policy.on.contains(&RetryOn::Timeout),
        Attempt::Fatal => false,
    };
    if !matches {
        return Decision::Stop(None);
    }
    if let Some(methods) = &policy.methods
        && !methods.iter().any(|m| m.eq_ignore_ascii_case(method))
    {
        return Decision::Stop(Some(format!(
            "{method} is not retried unless the step asks (add `retry:` to the step)"
        )));
    }
    if attempt >= policy.attempts {
        return Decision::Stop(None);
    }
    // Exponential backoff: backoff × factor^(attempt−1), capped.
    let exp = policy
        .factor
        .max(1.0)
        .powi(attempt.saturating_sub(1).min(64) as i32);
    let base = policy.backoff.as_secs_f64() * exp;
    let base = base.min(policy.max_backoff.as_secs_f64());
    // "Equal jitter": somewhere between half and all of the delay.
    let delay = if policy.jitter {
        base * (0.5 + 0.5 * jitter_sample.clamp(0.0, 1.0))
    } else {
        base
    };
    let mut delay = Duration::from_secs_f64(delay.max(0.0));
    if let Attempt::Status {
        retry_after: Some(value),
        ..
    } = outcome
        && let Some(wait) = parse_retry_after(value, now)
    {
        if wait > policy.max_backoff {
            return Decision::Stop(Some(format!(
                "the server asked to wait {} (Retry-After), more than max_backoff {}",
                humantime::format_duration(wait),
                humantime::format_duration(policy.max_backoff)
            )));
        }
        // The server knows best; never retry sooner than it asked.
        delay = delay.max(wait);
    }
    Decision::Retry(delay)
}

/// `Retry-After: 120` or `Retry-After: Wed, 21 Oct 2015 07:28:00 GMT` (RFC 9110 §10.2.3).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_jitter() -> RetryPolicy {
        RetryPolicy {
            jitter: false,
            ..RetryPolicy::default()
        }
    }

    fn status(code: u16) -> Attempt<'static> {
        Attempt::Status {
            code,
            retry_after: None,
        }
    }

    const NOW: SystemTime = SystemTime::UNIX_EPOCH;

    #[test]
    fn default_policy_retries_transient_failures_of_idempotent_methods() {
        let p = no_jitter();
        for a in [
            status(429),
            status(502),
            status(503),
            status(504),
            Attempt::Connect,
            Attempt::Timeout,
        ] {
            assert_eq!(
                decide(&p, "GET", 1, a, NOW, 0.0),
                Decision::Retry(Duration::from_millis(200))
            );
        }
        for a in [status(500), status(404), status(200), Attempt::Fatal] {
            assert_eq!(decide(&p, "GET", 1, a, NOW, 0.0), Decision::Stop(None));
        }
    }

    #[test]
    fn post_and_patch_are_not_retried_by_default() {
        let p = no_jitter();
        for m in ["POST", "PATCH"] {
            match decide(&p, m, 1, status(503), NOW, 0.0) {
                Decision::Stop(Some(why)) => assert!(why.contains("not retried"), "{why}"),
                other => panic!("{m}: {other:?}"),
            }
        }
        let opted_in = RetryPolicy {
            methods: None,
            ..no_jitter()
        };
        assert!(matches!(
            decide(&opted_in, "POST", 1, status(503), NOW, 0.0),
            Decision::Retry(_)
        ));
    }

    #[test]
    fn backoff_grows_exponentially_and_is_capped() {
        let p = RetryPolicy {
            attempts: 10,
            max_backoff: Duration::from_millis(700),
            ..no_jitter()
        };
        let d = |n| decide(&p, "GET", n, status(503), NOW, 0.0);
        assert_eq!(d(1), Decision::Retry(Duration::from_millis(200)));
        assert_eq!(d(2), Decision::Retry(Duration::from_millis(400)));
        assert_eq!(d(3), Decision::Retry(Duration::from_millis(700)));
        assert_eq!(d(10), Decision::Stop(None));
    }

    #[test]
    fn jitter_stays_between_half_and_full_delay() {
        let p = RetryPolicy::default();
        assert_eq!(
            decide(&p, "GET", 1, status(503), NOW, 0.0),
            Decision::Retry(Duration::from_millis(100))
        );
        assert_eq!(
            decide(&p, "GET", 1, status(503), NOW, 1.0),
            Decision::Retry(Duration::from_millis(200))
        );
    }

    #[test]
    fn stops_after_the_last_attempt() {
        let p = no_jitter();
        assert!(matches!(
            decide(&p, "GET", 2, status(503), NOW, 0.0),
            Decision::Retry(_)
        ));
        assert_eq!(
            decide(&p, "GET", 3, status(503), NOW, 0.0),
            Decision::Stop(None)
        );
    }

    #[test]
    fn retry_after_seconds_and_dates_are_honoured() {
        let p = no_jitter();
        let a = Attempt::Status {
            code: 429,
            retry_after: Some("2"),
        };
        assert_eq!(
            decide(&p, "GET", 1, a, NOW, 0.0),
            Decision::Retry(Duration::from_secs(2))
        );
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        let a = Attempt::Status {
            code: 503,
            retry_after: Some("Wed, 21 Oct 2015 07:28:03 GMT"),
        };
        assert_eq!(
            decide(&p, "GET", 1, a, now, 0.0),
            Decision::Retry(Duration::from_secs(3))
        );
        // A date in the past means "now": the computed backoff applies.
        let a = Attempt::Status {
            code: 503,
            retry_after: Some("Wed, 21 Oct 2015 07:27:00 GMT"),
        };
        assert_eq!(
            decide(&p, "GET", 1, a, now, 0.0),
            Decision::Retry(Duration::from_millis(200))
        );
        // Garbage is ignored.
        let a = Attempt::Status {
            code: 503,
            retry_after: Some("soon"),
        };
        assert_eq!(
            decide(&p, "GET", 1, a, NOW, 0.0),
            Decision::Retry(Duration::from_millis(200))
        );
    }

    #[test]
    fn retry_after_beyond_max_backoff_gives_up_with_a_reason() {
        let p = no_jitter();
        let a = Attempt::Status {
            code: 429,
            retry_after: Some("3600"),
        };
        match decide(&p, "GET", 1, a, NOW, 0.0) {
            Decision::Stop(Some(why)) => assert!(why.contains("1h"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn classes_and_custom_conditions() {
        let p = RetryPolicy {
            on: vec![RetryOn::Class(5)],
            ..no_jitter()
        };
        assert!(matches!(
            decide(&p, "GET", 1, status(500), NOW, 0.0),
            Decision::Retry(_)
        ));
        assert_eq!(
            decide(&p, "GET", 1, status(429), NOW, 0.0),
            Decision::Stop(None)
        );
        assert_eq!(
            decide(&p, "GET", 1, Attempt::Connect, NOW, 0.0),
            Decision::Stop(None)
        );
    }
}
