//! `retry:`, merged over `defaults.retry` and the built-in policy.

use std::sync::Arc;

use super::Validator;
use crate::chain::model::{Retry, RetryOn};
use crate::chain::spans::join_key;
use crate::plan::retry::{RetryPolicy, idempotent_methods};

impl Validator<'_> {
    pub(super) fn retry_policy(
        &mut self,
        defaults: Option<&Retry>,
        own: Option<&Retry>,
        base: &str,
    ) -> RetryPolicy {
        let d = RetryPolicy::default();
        fn pick<T>(
            own: Option<&Retry>,
            defaults: Option<&Retry>,
            f: fn(&Retry) -> Option<T>,
        ) -> Option<T> {
            own.and_then(f).or_else(|| defaults.and_then(f))
        }
        let attempts: Option<u32> = pick(own, defaults, |r| r.attempts);
        let attempts = attempts.unwrap_or(d.attempts);
        if attempts == 0 {
            self.error_value(
                &join_key(&join_key(base, "retry"), "attempts"),
                "`attempts` counts the first try too, so it must be at least 1",
                None,
            );
        }
        let factor: Option<f64> = pick(own, defaults, |r| r.factor);
        let factor = factor.unwrap_or(d.factor);
        if !(factor.is_finite() && factor >= 1.0) {
            self.error_value(
                &join_key(&join_key(base, "retry"), "factor"),
                "`factor` must be a number of at least 1",
                None,
            );
        }
        let on: Option<Vec<RetryOn>> = own
            .and_then(|r| r.on.clone())
            .or_else(|| defaults.and_then(|r| r.on.clone()));
        // A `retry:` written on the step itself is the chain asking: any method may be retried.
        // Written: upper case, and `any` (or an empty list) is no limit.
        let written = |m: &Vec<String>| -> Option<Arc<[String]>> {
            if m.is_empty() || m.iter().any(|x| x.eq_ignore_ascii_case("any") || x == "*") {
                None
            } else {
                Some(m.iter().map(|x| x.to_ascii_uppercase()).collect())
            }
        };
        let methods = match (
            own,
            own.and_then(|r| r.methods.as_ref()),
            defaults.and_then(|r| r.methods.as_ref()),
        ) {
            (_, Some(m), _) => written(m),
            (Some(_), None, _) => None,
            (None, None, Some(m)) => written(m),
            (None, None, None) => Some(idempotent_methods()),
        };
        RetryPolicy {
            attempts: attempts.max(1),
            backoff: pick(own, defaults, |r| r.backoff).map_or(d.backoff, |x| x.0),
            max_backoff: pick(own, defaults, |r| r.max_backoff).map_or(d.max_backoff, |x| x.0),
            factor,
            jitter: pick(own, defaults, |r| r.jitter).unwrap_or(d.jitter),
            on: on.unwrap_or(d.on),
            methods,
        }
    }
}
