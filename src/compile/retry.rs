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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::diagnostic::Source;

    /// The first step's retry policy, or the rendered errors.
    fn policy(yaml: &str) -> Result<crate::plan::retry::RetryPolicy, String> {
        let parsed = crate::chain::parse(Arc::new(Source {
            name: "t.yaml".into(),
            text: yaml.into(),
        }))
        .unwrap();
        let vars = parsed.chain.vars.clone();
        crate::compile::validate(parsed, vars)
            .map(|c| c.steps[0].retry.clone())
            .map_err(|d| d.render(false))
    }

    #[test]
    fn the_step_wins_field_by_field_over_defaults() {
        let p = policy(
            "defaults: {retry: {attempts: 5, backoff: 1s}}\nsteps:\n  - {name: A, url: http://x.test/, retry: {backoff: 10ms}}\n",
        )
        .unwrap();
        assert_eq!(p.attempts, 5);
        assert_eq!(p.backoff, std::time::Duration::from_millis(10));
        // A `retry:` on the step is the chain asking: any method retries.
        assert!(p.methods.is_none());
        let p = policy(
            "defaults: {retry: {attempts: 2}}\nsteps:\n  - {name: A, url: http://x.test/}\n",
        )
        .unwrap();
        assert_eq!(p.attempts, 2);
        assert!(p.methods.unwrap().iter().any(|m| m == "GET"));
    }

    #[test]
    fn impossible_policies_are_errors() {
        let e = policy("steps:\n  - {name: A, url: http://x.test/, retry: {attempts: 0}}\n")
            .unwrap_err();
        assert!(e.contains("must be at least 1"), "{e}");
        let e = policy("steps:\n  - {name: A, url: http://x.test/, retry: {factor: 0.5}}\n")
            .unwrap_err();
        assert!(e.contains("`factor` must be a number of at least 1"), "{e}");
    }
}
