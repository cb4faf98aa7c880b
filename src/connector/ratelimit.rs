//! Per-connector rate limits: one token bucket per connector, shared by every
//! request of the run, that also adapts to what the server says.
//!
//! See [`RateLimiter`] for the model. The arithmetic lives in a private, pure
//! `Bucket` that takes the current instant as an argument, so the timing is
//! tested with synthetic instants and tokio's paused clock, never wall-clock.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// The longest pause a server response can impose (1 hour) unless changed with
/// [`RateLimiter::with_max_pause`]. A `Retry-After` or reset further away than
/// this (say, a daily quota resetting in 10 days, or a mis-read timestamp) is
/// cut down to it, so a run waits a bounded time instead of hanging.
pub const DEFAULT_MAX_PAUSE: Duration = Duration::from_secs(60 * 60);

/// Upper bound for [`RateLimiter::with_max_pause`] (365 days), which keeps
/// `Instant + pause` from overflowing.
const MAX_MAX_PAUSE: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// A reset value above this is a Unix timestamp in seconds, not a delta:
/// 1e9 seconds is ~31.7 years as a delta, and Sep 2001 as a timestamp.
const EPOCH_SECONDS_ABOVE: f64 = 1e9;

/// A reset value above this is a Unix timestamp in milliseconds
/// (1e12 ms is Sep 2001; as seconds it would be the year ~33 000).
const EPOCH_MILLIS_ABOVE: f64 = 1e12;

/// Shared rate limit of one connector: a token bucket with reservations, paused
/// by what the server says.
///
/// * The bucket holds up to `burst` tokens (default: `requests`) and refills at
///   `requests / per`. It starts full. Each [`acquire`](Self::acquire) takes one
///   token at once, even if that drives the level below zero: a negative level
///   is a queue of reservations, each served `1 / rate` after the previous one,
///   in call order. So concurrent callers can never exceed the rate, and the
///   lock is never held across a sleep.
/// * [`observe`](Self::observe) reads each response: a 429/503 `Retry-After`, or
///   "remaining 0, resets in N s" (`RateLimit`, `RateLimit-*`, `X-RateLimit-*`),
///   *pauses* the bucket. A pause freezes the bucket's clock: nobody is released
///   and nothing refills until it ends; afterwards every queued reservation
///   keeps its place and spacing, shifted by the pause. Callers already asleep
///   re-check when they wake, so a 429 also delays them.
/// * `remaining = N` below our token count lowers the count to N.
#[derive(Debug)]
pub struct RateLimiter {
    name: String,
    inner: Mutex<Bucket>,
}

impl RateLimiter {
    /// A limiter allowing `requests` per `per`, with bursts of up to `burst`
    /// requests (default `requests`), starting full. `name` is the connector's
    /// name, for progress messages.
    ///
    /// Degenerate values are clamped rather than rejected (validate them where
    /// the configuration is read): `requests` and `burst` of 0 count as 1
    /// (a rate of zero would wait forever), and a zero `per` means no limit of
    /// our own; only the server's pauses apply then.
    pub fn new(name: impl Into<String>, requests: u32, per: Duration, burst: Option<u32>) -> Self {
        let requests = requests.max(1);
        let refill_per_sec = if per.is_zero() {
            f64::INFINITY
        } else {
            f64::from(requests) / per.as_secs_f64()
        };
        let capacity = f64::from(burst.unwrap_or(requests).max(1));
        RateLimiter {
            name: name.into(),
            inner: Mutex::new(Bucket::new(capacity, refill_per_sec, Instant::now())),
        }
    }

    /// Sets the longest pause a response can impose (default
    /// [`DEFAULT_MAX_PAUSE`], at most 365 days). Longer server requests are cut to
    /// it.
    pub fn with_max_pause(self, max_pause: Duration) -> Self {
        self.lock().max_pause = max_pause.min(MAX_MAX_PAUSE);
        self
    }

    /// The connector's name, as given to [`new`](Self::new).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Waits until this caller may send one request, and returns how long it
    /// waited (zero if it did not).
    ///
    /// Takes the reservation at once, so callers are served in call order. When a
    /// wait is needed, `on_wait` is called with it *before* sleeping, so progress
    /// can show "waiting on rate limit". It may be called again with the rest of
    /// the wait if a pause arrives while this caller sleeps (each wake-up
    /// re-checks the bucket). Cancelling (dropping) the future gives up the
    /// reservation without handing it back, which never lets the rate be exceeded.
    pub async fn acquire(&self, mut on_wait: impl FnMut(Duration)) -> Duration {
        let (start, ticket, mut wait) = {
            let mut bucket = self.lock();
            let now = Instant::now();
            let ticket = bucket.take(now);
            (now, ticket, bucket.wait_for(ticket, now))
        };
        while !wait.is_zero() {
            on_wait(wait);
            tokio::time::sleep(wait).await;
            let mut bucket = self.lock();
            wait = bucket.wait_for(ticket, Instant::now());
        }
        Instant::now().saturating_duration_since(start)
    }

    /// How long an [`acquire`](Self::acquire) started now would wait, without
    /// taking a token.
    pub fn would_wait(&self) -> Duration {
        let mut copy = self.lock().clone();
        copy.reserve(Instant::now())
    }

    /// Adapts the bucket to a response's status and headers, and returns the
    /// pause now in force (from now) if the response asked for one, so the caller
    /// can report it.
    ///
    /// `header` looks a header up by name (names are passed lower-case; look them
    /// up case-insensitively, as `http::HeaderMap` does) and returns its value.
    /// Unparseable values are ignored. What is read (when both `Retry-After` and
    /// a reset ask for a pause, the longer wins):
    /// * 429 or 503 with `Retry-After` (delta seconds or HTTP date): pause.
    /// * The first header family present, on any status:
    ///   `RateLimit: limit=100, remaining=0, reset=5` or the newer
    ///   `RateLimit: "policy";r=0;t=5` (several policies: the most restrictive),
    ///   else `RateLimit-Remaining` + `RateLimit-Reset`, else
    ///   `X-RateLimit-Remaining` + `X-RateLimit-Reset`. Remaining 0 (or a 429
    ///   without `Retry-After`) with a reset: pause until the reset. A reset is
    ///   seconds from now, unless above 1e9 (a Unix timestamp in seconds, as
    ///   GitHub sends) or above 1e12 (a Unix timestamp in milliseconds).
    ///   `RateLimit-Limit` and `RateLimit-Policy` are not used: our own configured
    ///   rate stays in charge, and remaining/reset already say when to stop.
    /// * Remaining N below our tokens lowers them to N; a 429 without any timing
    ///   empties the bucket (the next request waits one refill interval).
    ///
    /// Dates and timestamps are measured against the response's `Date` header
    /// when it has one (which cancels clock skew between us and the server), else
    /// against the local clock. Pauses are capped at the maximum pause.
    pub fn observe(
        &self,
        status: u16,
        header: impl Fn(&str) -> Option<String>,
    ) -> Option<Duration> {
        let mut bucket = self.lock();
        bucket.observe(Instant::now(), SystemTime::now(), status, &header)
    }

    fn lock(&self) -> MutexGuard<'_, Bucket> {
        // The bucket is plain numbers that no panic can leave half-updated.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A reservation: the point of the bucket's own clock (time not paused, see
/// `Bucket::active`) from which its holder may go.
#[derive(Debug, Clone, Copy)]
struct Ticket(Duration);

/// The pure token bucket. Every method takes the current instant.
#[derive(Debug, Clone)]
struct Bucket {
    capacity: f64,
    /// `f64::INFINITY` when there is no limit of our own.
    refill_per_sec: f64,
    /// Level as of `last`; below zero, the count of reservations not yet due.
    tokens: f64,
    last: Instant,
    /// After `advance`, `Some` only if still in the future: the pause runs from
    /// `last` to it.
    paused_until: Option<Instant>,
    /// The bucket's own clock: time elapsed up to `last`, pauses excluded.
    /// Refill and tickets are measured on it, so a pause shifts every
    /// reservation by its length.
    active: Duration,
    max_pause: Duration,
}

impl Bucket {
    fn new(capacity: f64, refill_per_sec: f64, now: Instant) -> Self {
        Bucket {
            capacity,
            refill_per_sec,
            tokens: capacity,
            last: now,
            paused_until: None,
            active: Duration::ZERO,
            max_pause: DEFAULT_MAX_PAUSE,
        }
    }

    /// Brings the state to `now` (an instant before `last` counts as `last`):
    /// refills for the time not paused, and ends a pause that is over.
    fn advance(&mut self, now: Instant) {
        if now <= self.last {
            return;
        }
        let run_from = match self.paused_until {
            Some(until) if now < until => {
                self.last = now;
                return;
            }
            Some(until) => {
                self.paused_until = None;
                until.max(self.last)
            }
            None => self.last,
        };
        let ran = now - run_from;
        if !ran.is_zero() {
            self.active += ran;
            let refilled = self.tokens + self.refill_per_sec * ran.as_secs_f64();
            self.tokens = refilled.min(self.capacity);
        }
        self.last = now;
    }

    /// Takes a token, possibly going negative, and returns the reservation.
    fn take(&mut self, now: Instant) -> Ticket {
        self.advance(now);
        self.tokens -= 1.0;
        Ticket(self.active + secs_to_duration(-self.tokens / self.refill_per_sec))
    }

    /// How long from `now` the holder of `ticket` must still wait.
    fn wait_for(&mut self, ticket: Ticket, now: Instant) -> Duration {
        self.advance(now);
        let paused = self
            .paused_until
            .map_or(Duration::ZERO, |until| until - self.last);
        paused + ticket.0.saturating_sub(self.active)
    }

    /// Takes a token and returns how long the caller must wait before sending
    /// (zero if it need not).
    fn reserve(&mut self, now: Instant) -> Duration {
        let ticket = self.take(now);
        self.wait_for(ticket, now)
    }

    /// Pauses for `pause` (capped) from `now`; a pause already running longer
    /// is kept. Returns the pause in force, from now.
    fn pause(&mut self, now: Instant, pause: Duration) -> Duration {
        self.advance(now);
        let pause = pause.min(self.max_pause);
        if let Some(until) = self.last.checked_add(pause) {
            self.paused_until = Some(self.paused_until.map_or(until, |old| old.max(until)));
        }
        self.paused_until
            .map_or(Duration::ZERO, |until| until - self.last)
    }

    /// Adapts to a response; see [`RateLimiter::observe`]. `wall_now` is the
    /// local wall clock, used for HTTP dates and Unix timestamps when the
    /// response has no `Date` header.
    fn observe(
        &mut self,
        now: Instant,
        wall_now: SystemTime,
        status: u16,
        header: &dyn Fn(&str) -> Option<String>,
    ) -> Option<Duration> {
        self.advance(now);
        let server_now = header("date")
            .and_then(|date| httpdate::parse_http_date(date.trim()).ok())
            .unwrap_or(wall_now);

        let mut wanted: Option<f64> = None;
        if matches!(status, 429 | 503) {
            wanted = header("retry-after").and_then(|v| parse_retry_after(&v, server_now));
        }
        let limits = Limits::from_headers(header, server_now);
        let exhausted = limits.remaining.is_some_and(|r| r < 1.0);
        if (exhausted || (status == 429 && wanted.is_none()))
            && let Some(reset) = limits.reset
        {
            wanted = Some(wanted.map_or(reset, |w| w.max(reset)));
        }

        let max_pause = self.max_pause;
        let pause = wanted
            .map(|secs| capped_duration(secs, max_pause))
            .filter(|p| !p.is_zero())
            .map(|p| self.pause(now, p));

        if pause.is_none() && status == 429 {
            self.tokens = self.tokens.min(0.0);
        }
        if let Some(remaining) = limits.remaining {
            // Remaining 0 with a pause: the window restarts when the pause
            // ends, so keep our tokens for then.
            if pause.is_none() || remaining >= 1.0 {
                self.tokens = self.tokens.min(remaining.floor());
            }
        }
        pause
    }
}

/// What the server said about its quota. `reset` is in seconds from now.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Limits {
    remaining: Option<f64>,
    reset: Option<f64>,
}

impl Limits {
    fn is_empty(&self) -> bool {
        self.remaining.is_none() && self.reset.is_none()
    }

    /// The first header family with something usable: `RateLimit`, then
    /// `RateLimit-Remaining`/`-Reset`, then `X-RateLimit-Remaining`/`-Reset`.
    fn from_headers(header: &dyn Fn(&str) -> Option<String>, server_now: SystemTime) -> Limits {
        if let Some(value) = header("ratelimit") {
            let limits = parse_combined(&value, server_now);
            if !limits.is_empty() {
                return limits;
            }
        }
        for (remaining, reset) in [
            ("ratelimit-remaining", "ratelimit-reset"),
            ("x-ratelimit-remaining", "x-ratelimit-reset"),
        ] {
            let number = |name: &str| header(name).and_then(|v| parse_number(first_item(&v)));
            let limits = Limits {
                remaining: number(remaining),
                reset: number(reset).map(|r| reset_in(r, server_now)),
            };
            if !limits.is_empty() {
                return limits;
            }
        }
        Limits::default()
    }
}

/// `RateLimit: limit=100, remaining=50, reset=5` (older IETF drafts), or
/// `RateLimit: "burst";r=5;t=1, "day";r=0;t=3600` (newer drafts: one item per
/// policy; the most restrictive wins: fewest remaining, then latest reset).
fn parse_combined(value: &str, server_now: SystemTime) -> Limits {
    let mut old_style = Limits::default();
    let mut most_restrictive: Option<(f64, Option<f64>)> = None;
    for item in value.split(',') {
        let (mut r, mut t) = (None, None);
        for param in item.split(';') {
            let Some((key, val)) = param.split_once('=') else {
                continue;
            };
            let key = key.trim();
            let val = parse_number(val);
            if key.eq_ignore_ascii_case("remaining") {
                old_style.remaining = val;
            } else if key.eq_ignore_ascii_case("reset") {
                old_style.reset = val;
            } else if key == "r" {
                r = val;
            } else if key == "t" {
                t = val;
            }
        }
        if let Some(r) = r {
            let stricter = most_restrictive.is_none_or(|(best_r, best_t)| {
                r < best_r || (r == best_r && t.unwrap_or(0.0) > best_t.unwrap_or(0.0))
            });
            if stricter {
                most_restrictive = Some((r, t));
            }
        }
    }
    let limits = match most_restrictive {
        Some((remaining, reset)) => Limits {
            remaining: Some(remaining),
            reset,
        },
        None => old_style,
    };
    Limits {
        reset: limits.reset.map(|r| reset_in(r, server_now)),
        ..limits
    }
}

/// `Retry-After` in seconds from `server_now`: delta seconds or an HTTP date.
fn parse_retry_after(value: &str, server_now: SystemTime) -> Option<f64> {
    if let Some(secs) = parse_number(value) {
        return Some(secs);
    }
    let at = httpdate::parse_http_date(value.trim()).ok()?;
    Some(
        at.duration_since(server_now)
            .map_or(0.0, |d| d.as_secs_f64()),
    )
}

/// A reset value in seconds from `server_now`. Decided by magnitude: above
/// 1e12 a Unix timestamp in milliseconds, above 1e9 one in seconds, else a
/// delta in seconds. A timestamp in the past gives 0.
fn reset_in(value: f64, server_now: SystemTime) -> f64 {
    let epoch_secs = if value > EPOCH_MILLIS_ABOVE {
        value / 1000.0
    } else if value > EPOCH_SECONDS_ABOVE {
        value
    } else {
        return value;
    };
    let now_secs = server_now
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    (epoch_secs - now_secs).max(0.0)
}

/// The first item of a list-valued header, parameters dropped: `"10;w=1, 5"`
/// gives `"10"`.
fn first_item(value: &str) -> &str {
    value.split([',', ';']).next().unwrap_or_default()
}

/// A finite, non-negative number, optionally quoted; anything else is `None`.
fn parse_number(value: &str) -> Option<f64> {
    let value = value.trim().trim_matches('"').trim();
    let number: f64 = value.parse().ok()?;
    (number.is_finite() && number >= 0.0).then_some(number)
}

/// `secs` as a duration, at most `max`.
fn capped_duration(secs: f64, max: Duration) -> Duration {
    if secs >= max.as_secs_f64() {
        max
    } else {
        secs_to_duration(secs)
    }
}

/// Seconds to a duration rounded to the nanosecond, so float noise (0.2 s
/// computed as 0.20000000000000004) cannot push a sleep into the next timer
/// tick. Zero for non-positive or NaN input; saturates for huge input.
fn secs_to_duration(secs: f64) -> Duration {
    let nanos = (secs * 1e9).round();
    if nanos.is_nan() || nanos <= 0.0 {
        Duration::ZERO
    } else if nanos >= u64::MAX as f64 {
        Duration::from_nanos(u64::MAX)
    } else {
        Duration::from_nanos(nanos as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::future::join_all;
    use std::cell::RefCell;

    const MS: Duration = Duration::from_millis(1);

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    /// A header lookup over fixed pairs, case-insensitive like `HeaderMap`.
    fn headers<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| (*v).to_owned())
        }
    }

    /// 2023-11-14T22:13:20Z, a fixed "local wall clock".
    const WALL_SECS: u64 = 1_700_000_000;

    fn wall() -> SystemTime {
        UNIX_EPOCH + secs(WALL_SECS)
    }

    /// A bucket of `capacity` refilling at `rate`/s, and its start instant.
    fn bucket(capacity: f64, rate: f64) -> (Bucket, Instant) {
        let t0 = Instant::now();
        (Bucket::new(capacity, rate, t0), t0)
    }

    fn observe(
        b: &mut Bucket,
        at: Instant,
        status: u16,
        pairs: &[(&str, &str)],
    ) -> Option<Duration> {
        b.observe(at, wall(), status, &headers(pairs))
    }

    // ---- the pure bucket, synthetic instants ----

    #[test]
    fn steady_rate_spaces_requests() {
        let (mut b, t0) = bucket(1.0, 2.0);
        assert_eq!(b.reserve(t0), Duration::ZERO);
        assert_eq!(b.reserve(t0), 500 * MS);
        assert_eq!(b.reserve(t0), 1000 * MS);
        // At t0+1s two tokens came back, both already promised: next at +1.5s.
        assert_eq!(b.reserve(t0 + secs(1)), 500 * MS);
        // Well after the queue drained, one immediate, then spaced again.
        assert_eq!(b.reserve(t0 + secs(10)), Duration::ZERO);
        assert_eq!(b.reserve(t0 + secs(10)), 500 * MS);
    }

    #[test]
    fn burst_then_rate_and_idle_refill_is_capped() {
        let (mut b, t0) = bucket(3.0, 1.0);
        for _ in 0..3 {
            assert_eq!(b.reserve(t0), Duration::ZERO);
        }
        assert_eq!(b.reserve(t0), secs(1));
        assert_eq!(b.reserve(t0), secs(2));
        // Idle for long: only `capacity` tokens accumulate, not 100.
        let later = t0 + secs(100);
        for _ in 0..3 {
            assert_eq!(b.reserve(later), Duration::ZERO);
        }
        assert_eq!(b.reserve(later), secs(1));
    }

    #[test]
    fn retry_after_seconds_pauses_and_freezes_the_bucket() {
        let (mut b, t0) = bucket(2.0, 1.0);
        assert_eq!(
            observe(&mut b, t0, 429, &[("Retry-After", "7")]),
            Some(secs(7))
        );
        // The two tokens left are usable at the end of the pause, then the rate.
        assert_eq!(b.reserve(t0), secs(7));
        assert_eq!(b.reserve(t0), secs(7));
        assert_eq!(b.reserve(t0), secs(8));
        // No refill happened during the pause (frozen clock).
        assert_eq!(b.reserve(t0 + secs(7)), secs(2));
    }

    #[test]
    fn retry_after_on_503_too_but_not_on_success() {
        let (mut b, t0) = bucket(5.0, 1.0);
        assert_eq!(observe(&mut b, t0, 200, &[("Retry-After", "30")]), None);
        assert_eq!(b.reserve(t0), Duration::ZERO);
        assert_eq!(
            observe(&mut b, t0, 503, &[("Retry-After", "30")]),
            Some(secs(30))
        );
        assert_eq!(b.reserve(t0), secs(30));
    }

    #[test]
    fn retry_after_http_date() {
        let (mut b, t0) = bucket(5.0, 1.0);
        let at = httpdate::fmt_http_date(wall() + secs(90));
        assert_eq!(
            observe(&mut b, t0, 429, &[("retry-after", &at)]),
            Some(secs(90))
        );
        assert_eq!(b.reserve(t0 + secs(30)), secs(60));
        // A date in the past is no pause; the 429 still empties the bucket.
        let (mut b, t0) = bucket(5.0, 1.0);
        let past = httpdate::fmt_http_date(wall() - secs(90));
        assert_eq!(observe(&mut b, t0, 429, &[("retry-after", &past)]), None);
        assert_eq!(b.reserve(t0), secs(1));
    }

    #[test]
    fn date_header_cancels_clock_skew() {
        let (mut b, t0) = bucket(5.0, 1.0);
        // The server's clock is 1000 s behind ours; its reset is 30 s from *its* now.
        let server_now = wall() - secs(1000);
        let date = httpdate::fmt_http_date(server_now);
        let reset = (WALL_SECS - 1000 + 30).to_string();
        let pairs = [
            ("Date", date.as_str()),
            ("X-RateLimit-Remaining", "0"),
            ("X-RateLimit-Reset", reset.as_str()),
        ];
        assert_eq!(observe(&mut b, t0, 403, &pairs), Some(secs(30)));
        let at = httpdate::fmt_http_date(server_now + secs(12));
        let pairs = [("Date", date.as_str()), ("Retry-After", at.as_str())];
        let (mut b, t0) = bucket(5.0, 1.0);
        assert_eq!(observe(&mut b, t0, 429, &pairs), Some(secs(12)));
    }

    #[test]
    fn x_ratelimit_remaining_zero_with_epoch_reset() {
        let (mut b, t0) = bucket(5.0, 1.0);
        let reset = (WALL_SECS + 60).to_string();
        let pairs = [
            ("X-RateLimit-Remaining", "0"),
            ("X-RateLimit-Reset", reset.as_str()),
        ];
        // GitHub answers 403 (or 429) with these; any status counts.
        assert_eq!(observe(&mut b, t0, 403, &pairs), Some(secs(60)));
        // Remaining 0 with a pause keeps our tokens for the new window.
        assert_eq!(b.reserve(t0 + secs(10)), secs(50));
        assert_eq!(b.reserve(t0 + secs(60)), Duration::ZERO);
    }

    #[test]
    fn x_ratelimit_reset_epoch_millis_and_delta_and_past() {
        let (mut b, t0) = bucket(5.0, 1.0);
        let reset = ((WALL_SECS + 45) * 1000).to_string();
        let pairs = [
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", reset.as_str()),
        ];
        assert_eq!(observe(&mut b, t0, 200, &pairs), Some(secs(45)));

        let (mut b, t0) = bucket(5.0, 1.0);
        let pairs = [("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "20")];
        assert_eq!(observe(&mut b, t0, 200, &pairs), Some(secs(20)));

        // Reset already past: no pause, but remaining 0 empties the bucket.
        let (mut b, t0) = bucket(5.0, 1.0);
        let reset = (WALL_SECS - 5).to_string();
        let pairs = [
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", reset.as_str()),
        ];
        assert_eq!(observe(&mut b, t0, 200, &pairs), None);
        assert_eq!(b.reserve(t0), secs(1));
    }

    #[test]
    fn ietf_ratelimit_remaining_and_reset_delta() {
        let (mut b, t0) = bucket(5.0, 1.0);
        let pairs = [
            ("RateLimit-Limit", "100"),
            ("RateLimit-Remaining", "0"),
            ("RateLimit-Reset", "30"),
        ];
        assert_eq!(observe(&mut b, t0, 200, &pairs), Some(secs(30)));
        assert_eq!(b.reserve(t0), secs(30));
        // The IETF family wins over X-RateLimit-*.
        let (mut b, t0) = bucket(5.0, 1.0);
        let pairs = [
            ("RateLimit-Remaining", "10"),
            ("RateLimit-Reset", "30"),
            ("X-RateLimit-Remaining", "0"),
            ("X-RateLimit-Reset", "99"),
        ];
        assert_eq!(observe(&mut b, t0, 200, &pairs), None);
        assert_eq!(b.reserve(t0), Duration::ZERO);
    }

    #[test]
    fn combined_ratelimit_header_both_drafts() {
        let (mut b, t0) = bucket(5.0, 1.0);
        let pairs = [("RateLimit", "limit=100, remaining=0, reset=5")];
        assert_eq!(observe(&mut b, t0, 200, &pairs), Some(secs(5)));

        let (mut b, t0) = bucket(5.0, 1.0);
        let pairs = [
            ("RateLimit-Policy", "\"default\";q=100;w=60"),
            ("RateLimit", "\"default\";r=0;t=12"),
        ];
        assert_eq!(observe(&mut b, t0, 200, &pairs), Some(secs(12)));

        // Several policies: the exhausted one decides.
        let (mut b, t0) = bucket(5.0, 1.0);
        let pairs = [("RateLimit", "\"burst\";r=4;t=1, \"day\";r=0;t=3000")];
        assert_eq!(observe(&mut b, t0, 200, &pairs), Some(secs(3000)));

        // Remaining only: lowers the tokens.
        let (mut b, t0) = bucket(5.0, 1.0);
        let pairs = [("RateLimit", "limit=100, remaining=1, reset=5")];
        assert_eq!(observe(&mut b, t0, 200, &pairs), None);
        assert_eq!(b.reserve(t0), Duration::ZERO);
        assert_eq!(b.reserve(t0), secs(1));
    }

    #[test]
    fn remaining_lowers_tokens_but_never_raises_them() {
        let (mut b, t0) = bucket(10.0, 1.0);
        assert_eq!(
            observe(&mut b, t0, 200, &[("X-RateLimit-Remaining", "2")]),
            None
        );
        assert_eq!(b.reserve(t0), Duration::ZERO);
        assert_eq!(b.reserve(t0), Duration::ZERO);
        assert_eq!(b.reserve(t0), secs(1));
        // Server has plenty: our own bucket (now in debt) is unchanged.
        assert_eq!(
            observe(&mut b, t0, 200, &[("X-RateLimit-Remaining", "4000")]),
            None
        );
        assert_eq!(b.reserve(t0), secs(2));
    }

    #[test]
    fn absurd_resets_are_capped() {
        let (mut b, t0) = bucket(5.0, 1.0);
        let reset = (WALL_SECS + 10 * 24 * 3600).to_string();
        let pairs = [
            ("X-RateLimit-Remaining", "0"),
            ("X-RateLimit-Reset", reset.as_str()),
        ];
        assert_eq!(observe(&mut b, t0, 403, &pairs), Some(DEFAULT_MAX_PAUSE));

        let (mut b, t0) = bucket(5.0, 1.0);
        let pairs = [("Retry-After", "999999999999999999999")];
        assert_eq!(observe(&mut b, t0, 429, &pairs), Some(DEFAULT_MAX_PAUSE));
        assert_eq!(b.reserve(t0), DEFAULT_MAX_PAUSE);

        let (mut b, t0) = bucket(5.0, 1.0);
        b.max_pause = secs(300);
        assert_eq!(
            observe(&mut b, t0, 429, &[("Retry-After", "3600")]),
            Some(secs(300))
        );
    }

    #[test]
    fn malformed_headers_are_ignored() {
        let (mut b, t0) = bucket(2.0, 1.0);
        for value in ["", "soon", "-5", "NaN", "inf", "1e400", "Tue, 99 Foo 2024"] {
            let pairs = [
                ("Retry-After", value),
                ("RateLimit", value),
                ("RateLimit-Remaining", value),
                ("RateLimit-Reset", value),
                ("X-RateLimit-Remaining", value),
                ("X-RateLimit-Reset", value),
                ("Date", value),
            ];
            assert_eq!(observe(&mut b, t0, 200, &pairs), None, "{value:?}");
        }
        let pairs = [
            ("X-RateLimit-Remaining", "lots"),
            ("X-RateLimit-Reset", "0"),
        ];
        assert_eq!(observe(&mut b, t0, 200, &pairs), None);
        // Nothing touched the bucket.
        assert_eq!(b.reserve(t0), Duration::ZERO);
        assert_eq!(b.reserve(t0), Duration::ZERO);
        // A 429 with a garbage Retry-After: no pause, but the bucket is emptied.
        let (mut b, t0) = bucket(2.0, 1.0);
        assert_eq!(observe(&mut b, t0, 429, &[("Retry-After", "soon")]), None);
        assert_eq!(b.reserve(t0), secs(1));
    }

    #[test]
    fn a_longer_pause_is_not_shortened() {
        let (mut b, t0) = bucket(5.0, 1.0);
        assert_eq!(
            observe(&mut b, t0, 429, &[("Retry-After", "60")]),
            Some(secs(60))
        );
        let t1 = t0 + secs(10);
        assert_eq!(
            observe(&mut b, t1, 429, &[("Retry-After", "5")]),
            Some(secs(50))
        );
        assert_eq!(b.reserve(t1), secs(50));
    }

    #[test]
    fn pause_shifts_queued_reservations_keeping_their_spacing() {
        let (mut b, t0) = bucket(1.0, 1.0);
        let tickets: Vec<_> = (0..3).map(|_| b.take(t0)).collect();
        assert_eq!(b.wait_for(tickets[2], t0), secs(2));
        let t1 = t0 + Duration::from_millis(1500);
        assert_eq!(
            observe(&mut b, t1, 429, &[("Retry-After", "10")]),
            Some(secs(10))
        );
        // Ticket 1 was due at t0+1s but its holder has not gone yet: nobody is
        // released during a pause, so it waits for the pause only.
        assert_eq!(b.wait_for(tickets[1], t1), secs(10));
        // Ticket 2 had 0.5 s left; it now has the pause plus those 0.5 s.
        assert_eq!(b.wait_for(tickets[2], t1), Duration::from_millis(10_500));
        assert_eq!(
            b.wait_for(tickets[2], t1 + secs(10)),
            Duration::from_millis(500)
        );
        assert_eq!(
            b.wait_for(tickets[2], t1 + Duration::from_millis(10_500)),
            Duration::ZERO
        );
    }

    #[test]
    fn rounding_noise_never_adds_a_nanosecond() {
        // 3 per second: 1/3 s steps accumulate float error over many steps.
        let (mut b, t0) = bucket(1.0, 3.0);
        b.reserve(t0);
        for i in 1..=3000u32 {
            let wait = b.reserve(t0);
            let expected = Duration::from_secs_f64(f64::from(i) / 3.0);
            let diff = wait.abs_diff(expected);
            assert!(
                diff <= Duration::from_nanos(1),
                "{i}: {wait:?} vs {expected:?}"
            );
        }
    }

    // ---- the async shell, tokio's paused clock ----

    #[tokio::test(start_paused = true)]
    async fn concurrent_acquires_are_fair_and_never_exceed_the_rate() {
        let limiter = RateLimiter::new("api", 5, secs(1), Some(5));
        let start = Instant::now();
        // Like `buffered(20)`: twenty futures polled concurrently on one task.
        let done = join_all((0..20).map(|_| {
            let limiter = &limiter;
            async move {
                limiter.acquire(|_| {}).await;
                Instant::now() - start
            }
        }))
        .await;
        let mut expected = vec![Duration::ZERO; 5];
        expected.extend((1..=15).map(|i| i * 200 * MS));
        assert_eq!(done, expected);
        assert_eq!(Instant::now() - start, secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn sequential_acquires_follow_the_steady_rate() {
        let limiter = RateLimiter::new("api", 2, secs(1), Some(1));
        let start = Instant::now();
        let mut at = Vec::new();
        let mut waited = Vec::new();
        for _ in 0..5 {
            waited.push(limiter.acquire(|_| {}).await);
            at.push(Instant::now() - start);
        }
        let expected: Vec<_> = (0..5).map(|i| i * 500 * MS).collect();
        assert_eq!(at, expected);
        assert_eq!(waited[0], Duration::ZERO);
        assert!(waited[1..].iter().all(|w| *w == 500 * MS));
    }

    #[tokio::test(start_paused = true)]
    async fn on_wait_reports_before_sleeping() {
        let limiter = RateLimiter::new("api", 1, secs(2), None);
        let start = Instant::now();
        let reported = RefCell::new(Vec::new());
        limiter
            .acquire(|w| reported.borrow_mut().push((w, start.elapsed())))
            .await;
        assert!(reported.borrow().is_empty());
        let waited = limiter
            .acquire(|w| reported.borrow_mut().push((w, start.elapsed())))
            .await;
        // Reported at t=0, before the 2 s sleep.
        assert_eq!(*reported.borrow(), vec![(secs(2), Duration::ZERO)]);
        assert_eq!(waited, secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_delays_callers_already_waiting() {
        let limiter = RateLimiter::new("api", 5, secs(1), Some(1));
        let start = Instant::now();
        let reports = RefCell::new(Vec::new());
        let waiters = join_all((0..5).map(|i| {
            let (limiter, reports) = (&limiter, &reports);
            async move {
                limiter
                    .acquire(|w| reports.borrow_mut().push((i, Instant::now() - start, w)))
                    .await;
                Instant::now() - start
            }
        }));
        let server = async {
            tokio::time::sleep(300 * MS).await;
            limiter.observe(429, headers(&[("Retry-After", "2")]))
        };
        let (done, paused) = tokio::join!(waiters, server);
        assert_eq!(paused, Some(secs(2)));
        // Due at 0, 0.2 | 429 at 0.3 pauses 2 s | were due at 0.4, 0.6, 0.8.
        let ms = |m| m * MS;
        assert_eq!(done, vec![ms(0), ms(200), ms(2400), ms(2600), ms(2800)]);
        // Waiter 2 was told 0.4 s at first, then the rest when it woke at 0.4 s.
        let reports = reports.into_inner();
        let of_2: Vec<_> = reports.iter().filter(|r| r.0 == 2).collect();
        assert_eq!(of_2, vec![&(2, ms(0), ms(400)), &(2, ms(400), ms(2000))]);
    }

    #[tokio::test(start_paused = true)]
    async fn observe_then_acquire_waits_for_the_reset() {
        let limiter = RateLimiter::new("github", 10, secs(1), None);
        let pairs = [("RateLimit-Remaining", "0"), ("RateLimit-Reset", "42")];
        assert_eq!(limiter.observe(200, headers(&pairs)), Some(secs(42)));
        assert_eq!(limiter.would_wait(), secs(42));
        assert_eq!(limiter.would_wait(), secs(42), "would_wait takes nothing");
        assert_eq!(limiter.acquire(|_| {}).await, secs(42));
        assert_eq!(limiter.acquire(|_| {}).await, Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn degenerate_settings_are_clamped() {
        // per = 0: no limit of our own.
        let limiter = RateLimiter::new("free", 1, Duration::ZERO, None);
        for _ in 0..100 {
            assert_eq!(limiter.acquire(|_| {}).await, Duration::ZERO);
        }
        assert_eq!(
            limiter.observe(429, headers(&[("Retry-After", "3")])),
            Some(secs(3))
        );
        assert_eq!(limiter.acquire(|_| {}).await, secs(3));
        // requests = 0 and burst = 0 count as 1.
        let limiter = RateLimiter::new("zero", 0, secs(1), Some(0));
        assert_eq!(limiter.acquire(|_| {}).await, Duration::ZERO);
        assert_eq!(limiter.acquire(|_| {}).await, secs(1));
        let limiter = RateLimiter::new("cap", 1, secs(1), None).with_max_pause(secs(9));
        assert_eq!(limiter.name(), "cap");
        assert_eq!(
            limiter.observe(429, headers(&[("Retry-After", "60")])),
            Some(secs(9))
        );
    }

    #[test]
    fn limiter_is_shareable_across_threads_and_tasks() {
        fn send_sync<T: Send + Sync>(_: &T) {}
        fn send<T: Send>(_: &T) {}
        let limiter = std::sync::Arc::new(RateLimiter::new("api", 1, secs(1), None));
        send_sync(&limiter);
        send(&limiter.acquire(|_| {}));
    }
}
