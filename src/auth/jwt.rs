//! JWTs signed here (HS256, RS256, ES256) with the jsonwebtoken crate:
//! `iat` and `exp` are filled in from the clock and `expires_in`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Map, Value};

/// What a JWT is signed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    Hs256,
    Rs256,
    Es256,
}

impl Alg {
    pub fn parse(s: &str) -> Option<Alg> {
        match s.to_ascii_uppercase().as_str() {
            "HS256" => Some(Alg::Hs256),
            "RS256" => Some(Alg::Rs256),
            "ES256" => Some(Alg::Es256),
            _ => None,
        }
    }
}

/// Signs `claims` (an object), adding `iat` = now and `exp` = now + `lifetime`
/// unless the claims set them. `key` is the HMAC secret for HS256, else a PEM
/// private key.
pub fn sign(
    alg: Alg,
    key: &str,
    claims: &Value,
    lifetime: Duration,
    now: SystemTime,
) -> Result<String, String> {
    let mut map: Map<String, Value> = match claims {
        Value::Object(m) => m.clone(),
        Value::Null => Map::new(),
        _ => return Err("`claims` must be a map".into()),
    };
    let now = now
        .duration_since(UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs();
    map.entry("iat").or_insert(Value::from(now));
    map.entry("exp")
        .or_insert(Value::from(now + lifetime.as_secs()));
    let (algorithm, encoding) = match alg {
        Alg::Hs256 => (Algorithm::HS256, EncodingKey::from_secret(key.as_bytes())),
        Alg::Rs256 => (
            Algorithm::RS256,
            EncodingKey::from_rsa_pem(key.as_bytes())
                .map_err(|e| format!("the RS256 private key is not usable: {e}"))?,
        ),
        Alg::Es256 => (
            Algorithm::ES256,
            EncodingKey::from_ec_pem(key.as_bytes())
                .map_err(|e| format!("the ES256 private key is not usable: {e}"))?,
        ),
    };
    jsonwebtoken::encode(&Header::new(algorithm), &Value::Object(map), &encoding)
        .map_err(|e| format!("cannot sign the JWT: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation, decode};
    use serde_json::json;

    #[test]
    fn hs256_tokens_verify_and_carry_iat_and_exp() {
        let now = SystemTime::now();
        let t = sign(
            Alg::Hs256,
            "k3y-k3y-k3y",
            &json!({"sub": "ann"}),
            Duration::from_secs(300),
            now,
        )
        .unwrap();
        let data = decode::<Value>(
            &t,
            &DecodingKey::from_secret(b"k3y-k3y-k3y"),
            &Validation::new(Algorithm::HS256),
        )
        .unwrap();
        assert_eq!(data.claims["sub"], "ann");
        let iat = data.claims["iat"].as_u64().unwrap();
        assert_eq!(data.claims["exp"].as_u64().unwrap(), iat + 300);
        assert!(
            decode::<Value>(
                &t,
                &DecodingKey::from_secret(b"wrong"),
                &Validation::new(Algorithm::HS256)
            )
            .is_err()
        );
    }

    #[test]
    fn bad_keys_and_claims_are_errors() {
        let now = SystemTime::now();
        assert!(
            sign(
                Alg::Rs256,
                "not a pem",
                &json!({}),
                Duration::from_secs(1),
                now
            )
            .unwrap_err()
            .contains("RS256")
        );
        assert!(sign(Alg::Hs256, "k", &json!([1]), Duration::from_secs(1), now).is_err());
        assert_eq!(Alg::parse("es256"), Some(Alg::Es256));
        assert_eq!(Alg::parse("none"), None);
    }
}
