//! Webhook signatures: GitHub, Stripe, Slack and a plain HMAC-SHA256 header.
//! Pure functions of the headers, the raw body, the secret and "now"; every
//! comparison of a signature is constant-time (aws-lc-rs), and every number
//! read from a header is checked before it is used.

use std::time::{Duration, SystemTime};

use aws_lc_rs::hmac;

use crate::chain::model::SignatureScheme;

/// At most this many `v1=` signatures in one `Stripe-Signature` header.
const MAX_STRIPE_SIGNATURES: usize = 8;

/// Why a request was refused. The text is safe to send back: it names what
/// is wrong, never the expected signature or the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureError {
    /// The header that carries the signature is not there.
    Missing(String),
    /// The header is there but cannot be read.
    Malformed(String),
    /// The signature does not match the body.
    Mismatch,
    /// The signed timestamp is older (or newer) than the tolerance allows.
    Stale { age: Duration, tolerance: Duration },
}

impl std::fmt::Display for SignatureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignatureError::Missing(h) => write!(f, "missing signature header `{h}`"),
            SignatureError::Malformed(why) => write!(f, "malformed signature: {why}"),
            SignatureError::Mismatch => f.write_str("signature does not match the body"),
            SignatureError::Stale { age, tolerance } => write!(
                f,
                "signed timestamp is {}s away from now; at most {}s allowed (replayed or clock skew?)",
                age.as_secs(),
                tolerance.as_secs()
            ),
        }
    }
}

/// What a signature is checked with.
pub struct Verifier<'a> {
    pub scheme: SignatureScheme,
    pub secret: &'a [u8],
    /// The header for `hmac-sha256`, lower case.
    pub header: Option<&'a str>,
    pub tolerance: Duration,
}

impl Verifier<'_> {
    /// Checks a request; `header(name)` returns a header's value (`name` in
    /// lower case).
    pub fn verify<'h>(
        &self,
        header: impl Fn(&str) -> Option<&'h str>,
        body: &[u8],
        now: SystemTime,
    ) -> Result<(), SignatureError> {
        let key = hmac::Key::new(hmac::HMAC_SHA256, self.secret);
        let need = |name: &str| header(name).ok_or_else(|| SignatureError::Missing(name.into()));
        match self.scheme {
            SignatureScheme::Github => {
                let value = need("x-hub-signature-256")?;
                let hex = value.trim().strip_prefix("sha256=").ok_or_else(|| {
                    SignatureError::Malformed(
                        "X-Hub-Signature-256 must start with `sha256=`".into(),
                    )
                })?;
                check(&key, body, hex)
            }
            SignatureScheme::HmacSha256 => {
                let name = self.header.unwrap_or("x-signature");
                let value = need(name)?.trim();
                // `sha256=` is a common prefix (GitHub's style); accept it.
                let hex = value.strip_prefix("sha256=").unwrap_or(value);
                check(&key, body, hex)
            }
            SignatureScheme::Slack => {
                let ts = need("x-slack-request-timestamp")?.trim();
                let sig = need("x-slack-signature")?.trim();
                let hex = sig.strip_prefix("v0=").ok_or_else(|| {
                    SignatureError::Malformed("X-Slack-Signature must start with `v0=`".into())
                })?;
                self.fresh(ts, now)?;
                let mut signed = format!("v0:{ts}:").into_bytes();
                signed.extend_from_slice(body);
                check(&key, &signed, hex)
            }
            SignatureScheme::Stripe => {
                let value = need("stripe-signature")?;
                let mut ts = None;
                let mut candidates = Vec::new();
                for part in value.split(',') {
                    match part.trim().split_once('=') {
                        Some(("t", t)) => ts = Some(t),
                        Some(("v1", s)) => candidates.push(s),
                        _ => {}
                    }
                }
                let ts = ts.ok_or_else(|| {
                    SignatureError::Malformed("Stripe-Signature has no `t=` timestamp".into())
                })?;
                if candidates.is_empty() {
                    return Err(SignatureError::Malformed(
                        "Stripe-Signature has no `v1=` signature".into(),
                    ));
                }
                // Stripe sends one `v1` per active secret while one is
                // rolled: a handful, never thousands.
                if candidates.len() > MAX_STRIPE_SIGNATURES {
                    return Err(SignatureError::Malformed(format!(
                        "Stripe-Signature has more than {MAX_STRIPE_SIGNATURES} `v1=` signatures"
                    )));
                }
                self.fresh(ts, now)?;
                let mut signed = format!("{ts}.").into_bytes();
                signed.extend_from_slice(body);
                // The body's HMAC once, compared with each candidate.
                let tag = hmac::sign(&key, &signed);
                let mut matched = false;
                for c in candidates {
                    matched |= matches(tag.as_ref(), c).unwrap_or(false);
                }
                if matched {
                    Ok(())
                } else {
                    Err(SignatureError::Mismatch)
                }
            }
        }
    }

    /// The signed Unix timestamp `ts` is within the tolerance of `now`.
    fn fresh(&self, ts: &str, now: SystemTime) -> Result<(), SignatureError> {
        // Only ASCII digits: `u64::from_str` would also take a leading `+`.
        // The text is the caller's: it is echoed back cut short and escaped.
        let not_a_time = || {
            SignatureError::Malformed(format!(
                "timestamp `{}` is not a Unix time in seconds",
                shown(ts)
            ))
        };
        if ts.is_empty() || !ts.bytes().all(|b| b.is_ascii_digit()) {
            return Err(not_a_time());
        }
        let secs: u64 = ts.parse().map_err(|_| not_a_time())?;
        // Any number fits a `u64`, not every one fits a `SystemTime`: a
        // timestamp past what the clock can hold is a malformed header,
        // never an overflow.
        let signed = SystemTime::UNIX_EPOCH
            .checked_add(Duration::from_secs(secs))
            .ok_or_else(not_a_time)?;
        let age = match now.duration_since(signed) {
            Ok(d) => d,
            Err(e) => e.duration(),
        };
        if age > self.tolerance {
            return Err(SignatureError::Stale {
                age,
                tolerance: self.tolerance,
            });
        }
        Ok(())
    }
}

/// The hex signature `hex` is the HMAC of `data` (constant time).
fn check(key: &hmac::Key, data: &[u8], hex: &str) -> Result<(), SignatureError> {
    let tag = hmac::sign(key, data);
    if matches(tag.as_ref(), hex)? {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The hex signature `hex` is `tag` (constant time); an error when it is
/// not hex.
fn matches(tag: &[u8], hex: &str) -> Result<bool, SignatureError> {
    let given = decode_hex(hex.trim())
        .ok_or_else(|| SignatureError::Malformed("the signature is not hex".into()))?;
    Ok(aws_lc_rs::constant_time::verify_slices_are_equal(tag, &given).is_ok())
}

/// Hex digits only (`from_str_radix` would take a `+`); `None` for anything
/// else, and for more than a SHA-512 tag's worth.
fn decode_hex(s: &str) -> Option<Vec<u8>> {
    let digit = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = s.as_bytes();
    if !bytes.len().is_multiple_of(2) || bytes.len() > 128 {
        return None;
    }
    bytes
        .chunks_exact(2)
        .map(|pair| Some((digit(pair[0])? << 4) | digit(pair[1])?))
        .collect()
}

/// A header's value as it may appear in a message: 40 characters at most,
/// controls escaped.
fn shown(value: &str) -> String {
    let mut out: String = value
        .chars()
        .take(40)
        .flat_map(char::escape_default)
        .collect();
    if value.chars().nth(40).is_some() {
        out.push('…');
    }
    out
}

/// The hex HMAC-SHA256 of `data` (for tests and the docs' examples).
pub fn sign_hex(secret: &[u8], data: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    hmac::sign(&key, data)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"It's a Secret to Everybody";
    const BODY: &[u8] = b"Hello, World!";

    fn verifier(scheme: SignatureScheme) -> Verifier<'static> {
        Verifier {
            scheme,
            secret: SECRET,
            header: Some("x-sig"),
            tolerance: Duration::from_secs(300),
        }
    }

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn headers<'a>(list: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<&'a str> {
        move |name| list.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
    }

    #[test]
    fn github_example_from_its_docs() {
        // GitHub's documented test vector for X-Hub-Signature-256.
        let sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        let v = verifier(SignatureScheme::Github);
        let h = [("x-hub-signature-256", sig)];
        assert_eq!(v.verify(headers(&h), BODY, at(0)), Ok(()));
        assert_eq!(
            v.verify(headers(&h), b"Hello, World?", at(0)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            v.verify(headers(&[]), BODY, at(0)),
            Err(SignatureError::Missing("x-hub-signature-256".into()))
        );
        let bad = [("x-hub-signature-256", "sha1=abc")];
        assert!(matches!(
            v.verify(headers(&bad), BODY, at(0)),
            Err(SignatureError::Malformed(_))
        ));
    }

    #[test]
    fn plain_hmac_header() {
        let v = verifier(SignatureScheme::HmacSha256);
        let sig = sign_hex(SECRET, BODY);
        assert_eq!(v.verify(headers(&[("x-sig", &sig)]), BODY, at(0)), Ok(()));
        let prefixed = format!("sha256={sig}");
        assert_eq!(
            v.verify(headers(&[("x-sig", &prefixed)]), BODY, at(0)),
            Ok(())
        );
        assert_eq!(
            v.verify(headers(&[("x-sig", "zz")]), BODY, at(0)),
            Err(SignatureError::Malformed("the signature is not hex".into()))
        );
    }

    #[test]
    fn slack_signature_and_replay_window() {
        let v = verifier(SignatureScheme::Slack);
        let ts = "1700000000";
        let sig = format!(
            "v0={}",
            sign_hex(SECRET, format!("v0:{ts}:{}", "Hello, World!").as_bytes())
        );
        let h = [
            ("x-slack-request-timestamp", ts),
            ("x-slack-signature", sig.as_str()),
        ];
        assert_eq!(v.verify(headers(&h), BODY, at(1_700_000_100)), Ok(()));
        // Ten minutes later, the same request is a replay.
        assert!(matches!(
            v.verify(headers(&h), BODY, at(1_700_000_600)),
            Err(SignatureError::Stale { .. })
        ));
        // A tampered body fails even within the window.
        assert_eq!(
            v.verify(headers(&h), b"other", at(1_700_000_000)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            v.verify(headers(&h[1..]), BODY, at(0)),
            Err(SignatureError::Missing("x-slack-request-timestamp".into()))
        );
    }

    /// Every header each scheme reads, set to hostile values one at a time
    /// (the others valid): each is refused with an error, never a panic,
    /// and never accepted.
    #[test]
    fn hostile_header_values_are_refused_not_crashed() {
        let hostile: Vec<String> = vec![
            String::new(),
            " ".into(),
            "9223372036854775808".into(),
            "18446744073709551615".into(),
            "18446744073709551616".into(),
            "99999999999999999999999999999999999999".into(),
            "-1".into(),
            "-9223372036854775808".into(),
            "+1700000000".into(),
            "1700000000.5".into(),
            "1e9".into(),
            "0x10".into(),
            "é".into(),
            "１７００００００００".into(),
            "\u{0}".into(),
            "\u{1b}]0;owned\u{7}".into(),
            "t=".into(),
            "v1=".into(),
            "t=9223372036854775808,v1=00".into(),
            "t=1700000000,v1=+f".into(),
            "v0=".into(),
            "v0=é".into(),
            "sha256=".into(),
            "sha256=+0".into(),
            ",,,,".into(),
            "=".repeat(10_000),
            "a".repeat(100_000),
            format!("t=1700000000,{}", "v1=00,".repeat(5000)),
        ];
        let now = at(1_700_000_010);
        let valid = |scheme: SignatureScheme| -> Vec<(&'static str, String)> {
            match scheme {
                SignatureScheme::Github => vec![(
                    "x-hub-signature-256",
                    format!("sha256={}", sign_hex(SECRET, BODY)),
                )],
                SignatureScheme::HmacSha256 => vec![("x-sig", sign_hex(SECRET, BODY))],
                SignatureScheme::Slack => vec![
                    ("x-slack-request-timestamp", "1700000000".into()),
                    (
                        "x-slack-signature",
                        format!("v0={}", sign_hex(SECRET, b"v0:1700000000:Hello, World!")),
                    ),
                ],
                SignatureScheme::Stripe => vec![(
                    "stripe-signature",
                    format!(
                        "t=1700000000,v1={}",
                        sign_hex(SECRET, b"1700000000.Hello, World!")
                    ),
                )],
            }
        };
        let schemes = [
            SignatureScheme::Github,
            SignatureScheme::HmacSha256,
            SignatureScheme::Slack,
            SignatureScheme::Stripe,
        ];
        for scheme in schemes {
            let v = verifier(scheme);
            let good = valid(scheme);
            let pairs: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
            assert_eq!(v.verify(headers(&pairs), BODY, now), Ok(()), "{scheme:?}");
            for i in 0..good.len() {
                for value in &hostile {
                    let mut pairs = pairs.clone();
                    pairs[i].1 = value;
                    let got = v.verify(headers(&pairs), BODY, now);
                    assert!(got.is_err(), "{scheme:?} accepted {}={value:?}", pairs[i].0);
                    let message = got.unwrap_err().to_string();
                    assert!(message.len() < 200, "{scheme:?}: {message}");
                    assert!(!message.contains('\u{1b}'), "{scheme:?}: {message}");
                }
            }
        }
    }

    #[test]
    fn a_timestamp_beyond_the_clock_is_malformed() {
        for scheme in [SignatureScheme::Slack, SignatureScheme::Stripe] {
            let v = verifier(scheme);
            let h: Vec<(&str, String)> = match scheme {
                SignatureScheme::Slack => vec![
                    ("x-slack-request-timestamp", "9223372036854775808".into()),
                    ("x-slack-signature", "v0=00".into()),
                ],
                _ => vec![("stripe-signature", "t=9223372036854775808,v1=00".into())],
            };
            let pairs: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
            match v.verify(headers(&pairs), BODY, at(1_700_000_000)) {
                Err(SignatureError::Malformed(m)) => {
                    assert!(m.contains("not a Unix time"), "{m}")
                }
                other => panic!("{scheme:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn stripe_signature_any_v1_and_replay_window() {
        let v = verifier(SignatureScheme::Stripe);
        let good = sign_hex(SECRET, b"1700000000.Hello, World!");
        let header = format!("t=1700000000,v1={},v1={good},v0=ignored", "00".repeat(32));
        let h = [("stripe-signature", header.as_str())];
        assert_eq!(v.verify(headers(&h), BODY, at(1_700_000_010)), Ok(()));
        assert!(matches!(
            v.verify(headers(&h), BODY, at(1_700_001_000)),
            Err(SignatureError::Stale { .. })
        ));
        let wrong = format!("t=1700000000,v1={}", "00".repeat(32));
        assert_eq!(
            v.verify(
                headers(&[("stripe-signature", &wrong)]),
                BODY,
                at(1_700_000_000)
            ),
            Err(SignatureError::Mismatch)
        );
        assert!(matches!(
            v.verify(headers(&[("stripe-signature", "v1=ab")]), BODY, at(0)),
            Err(SignatureError::Malformed(_))
        ));
    }
}
