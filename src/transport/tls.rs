//! TLS for the live route: the default clients' configuration (the
//! platform's verifier, created at the first handshake) and a step's `tls:`
//! settings read from PEM files, with errors that name the file at fault.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::{TlsSettings, TransportError};

/// Starts the TLS library's random number generator on a thread of its
/// own, once per process. Its first use gathers entropy from the timing
/// jitter of the CPU (aws-lc's seed source), which takes longer than
/// loading a 1000-step chain; started before the chain is loaded, the two
/// overlap instead of the first handshake waiting for it. The thread only
/// draws one random byte: if the process ends first, nothing is lost.
pub fn warm_up() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        let _ = std::thread::Builder::new()
            .name("tls-entropy".into())
            .spawn(|| {
                use aws_lc_rs::rand::SecureRandom;
                let _ = aws_lc_rs::rand::SystemRandom::new().fill(&mut [0u8; 1]);
            });
    });
}

/// The TLS settings of the default clients: what reqwest would build
/// (aws-lc-rs, TLS 1.2 and 1.3, ALPN h2 then http/1.1, the platform's
/// verifier over the system's roots), except that the verifier, and so the
/// reading of the system's root certificates, waits for the first TLS
/// handshake. Reading them was most of the work of a one-request run, and a
/// chain that only speaks plain HTTP never needs them.
pub(super) fn lazy_roots_tls_config() -> rustls::ClientConfig {
    let provider = provider();
    let verifier = Arc::new(LazyPlatformVerifier {
        provider: Arc::clone(&provider),
        inner: OnceLock::new(),
    });
    with_alpn(
        versions(provider)
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth(),
    )
}

/// The TLS settings for a step's `tls:` settings, the same for both routes
/// (plain.rs, and reqwest's through a proxy): the default clients' (above)
/// with the client identity, extra trusted CAs (beside the system's, which
/// stay trusted), or `verify: false`. Every file is read and checked here,
/// and a problem names the file at fault.
pub(super) fn tls_config(tls: &TlsSettings) -> Result<rustls::ClientConfig, TransportError> {
    let provider = provider();
    // Read even with `verify: false`, so that a broken file is reported
    // whatever the other settings.
    let extra_roots = match &tls.ca_cert {
        Some(ca) => Some((ca, ca_certificates(ca)?)),
        None => None,
    };
    let verifier: Arc<dyn rustls::client::danger::ServerCertVerifier> = match extra_roots {
        _ if !tls.verify => Arc::new(AnyCertificate {
            provider: Arc::clone(&provider),
        }),
        Some((ca, roots)) => Arc::new(
            rustls_platform_verifier::Verifier::new_with_extra_roots(roots, Arc::clone(&provider))
                .map_err(|e| {
                    let why = rustls_error(&e);
                    tls_error(
                        ca,
                        format!("a CA certificate cannot be used: {why}{}", der_hint(&why)),
                    )
                })?,
        ),
        None => Arc::new(LazyPlatformVerifier {
            provider: Arc::clone(&provider),
            inner: OnceLock::new(),
        }),
    };
    let builder = versions(provider)
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let config = match &tls.client_cert {
        None => builder.with_no_client_auth(),
        Some(cert) => {
            let password = tls.password.as_ref().map(|p| p.0.as_str());
            let id = identity(cert, tls.client_key.as_deref(), password)?;
            builder
                .with_client_auth_cert(id.chain, id.key)
                .map_err(|e| identity_error(cert, &id.key_path, &e))?
        }
    };
    Ok(with_alpn(config))
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// TLS 1.2 and 1.3, as reqwest offers.
fn versions(
    provider: Arc<rustls::crypto::CryptoProvider>,
) -> rustls::ConfigBuilder<rustls::ClientConfig, rustls::WantsVerifier> {
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|_| {
            // aws-lc-rs supports both default versions; this is unreachable,
            // and TLS 1.3 alone would still work.
            rustls::ClientConfig::builder_with_provider(self::provider())
                .with_protocol_versions(&[&rustls::version::TLS13])
                .expect("aws-lc-rs supports TLS 1.3")
        })
}

/// HTTP/2 when the server offers it, else HTTP/1.1.
fn with_alpn(mut config: rustls::ClientConfig) -> rustls::ClientConfig {
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config
}

/// `verify: false`: any certificate, any signature, as reqwest's
/// `danger_accept_invalid_certs` does.
#[derive(Debug)]
struct AnyCertificate {
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &rustls::pki_types::CertificateDer<'_>,
        _dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &rustls::pki_types::CertificateDer<'_>,
        _dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// `rustls_platform_verifier::Verifier`, created on first use.
#[derive(Debug)]
struct LazyPlatformVerifier {
    provider: Arc<rustls::crypto::CryptoProvider>,
    inner: OnceLock<Result<Arc<rustls_platform_verifier::Verifier>, rustls::Error>>,
}

impl LazyPlatformVerifier {
    fn verifier(&self) -> Result<&rustls_platform_verifier::Verifier, rustls::Error> {
        self.inner
            .get_or_init(|| {
                rustls_platform_verifier::Verifier::new(Arc::clone(&self.provider)).map(Arc::new)
            })
            .as_deref()
            .map_err(Clone::clone)
    }
}

impl rustls::client::danger::ServerCertVerifier for LazyPlatformVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        intermediates: &[rustls::pki_types::CertificateDer<'_>],
        server_name: &rustls::pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        self.verifier()?.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// One `-----BEGIN LABEL-----` … `-----END LABEL-----` block of a PEM file.
struct PemBlock {
    label: String,
    /// The block's text, BEGIN and END lines included.
    text: String,
}

const KEY_LABELS: &[&str] = &["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"];

fn tls_error(path: &Path, problem: impl std::fmt::Display) -> TransportError {
    TransportError::Tls(format!("{}: {problem}", path.display()))
}

/// Reads a PEM file into its blocks, with an error that names the file and
/// says what is wrong when it is not PEM at all.
fn pem_blocks(path: &Path, expected: &str) -> Result<Vec<PemBlock>, TransportError> {
    let bytes = std::fs::read(path).map_err(|e| tls_error(path, format!("cannot read: {e}")))?;
    let Ok(text) = std::str::from_utf8(&bytes) else {
        // A DER certificate or key is an ASN.1 SEQUENCE: it starts with 0x30.
        let hint = if bytes.first() == Some(&0x30) {
            " (it looks like binary DER: convert it with \
             `openssl x509 -inform der -in FILE -out FILE.pem`, or `openssl pkey` for a key)"
        } else {
            ""
        };
        return Err(tls_error(
            path,
            format!("not a PEM file: expected {expected}{hint}"),
        ));
    };
    let mut blocks = Vec::new();
    let mut open: Option<(String, usize, String)> = None;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if let Some((label, start, body)) = &mut open {
            body.push_str(line);
            body.push('\n');
            if let Some(end) = line
                .strip_prefix("-----END ")
                .and_then(|l| l.strip_suffix("-----"))
            {
                if end != label {
                    return Err(tls_error(
                        path,
                        format!(
                            "the `{label}` block that starts on line {start} ends with `{end}`"
                        ),
                    ));
                }
                blocks.push(PemBlock {
                    label: std::mem::take(label),
                    text: std::mem::take(body),
                });
                open = None;
            }
        } else if let Some(label) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        {
            open = Some((label.to_string(), n + 1, format!("{line}\n")));
        }
    }
    if let Some((label, start, _)) = open {
        return Err(tls_error(
            path,
            format!("the `{label}` block that starts on line {start} has no END line"),
        ));
    }
    if blocks.is_empty() {
        return Err(tls_error(
            path,
            format!("not a PEM file: expected {expected}, found no `-----BEGIN` line"),
        ));
    }
    Ok(blocks)
}

/// The private key blocks of a file, refusing the kinds rustls cannot use.
fn keys_in<'a>(path: &Path, blocks: &'a [PemBlock]) -> Result<Vec<&'a PemBlock>, TransportError> {
    // PKCS#8 `ENCRYPTED PRIVATE KEY`, or the older OpenSSL `Proc-Type` header.
    let encrypted = |b: &PemBlock| {
        b.label == "ENCRYPTED PRIVATE KEY"
            || (b.label.ends_with("PRIVATE KEY") && b.text.contains("Proc-Type: 4,ENCRYPTED"))
    };
    if blocks.iter().any(encrypted) {
        return Err(tls_error(
            path,
            "the private key is encrypted with a passphrase, which pytopus cannot use: \
             decrypt it with `openssl pkey -in KEY -out KEY.plain`",
        ));
    }
    let keys: Vec<&PemBlock> = blocks
        .iter()
        .filter(|b| KEY_LABELS.contains(&b.label.as_str()))
        .collect();
    if keys.len() > 1 {
        return Err(tls_error(
            path,
            format!("{} private keys found, expected one", keys.len()),
        ));
    }
    Ok(keys)
}

/// Whether `path` is named as PKCS#12 (`.p12`, `.pfx`).
fn named_pkcs12(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("p12") || e.eq_ignore_ascii_case("pfx"))
}

/// Binary DER: a PFX, or a DER certificate (both ASN.1 SEQUENCEs; told
/// apart by trying).
fn is_der(bytes: &[u8]) -> bool {
    bytes.first() == Some(&0x30) && std::str::from_utf8(bytes).is_err()
}

/// The largest PKCS#12 file read: a certificate chain and a key are a few KB.
const MAX_PKCS12: u64 = 1 << 20;

/// The identity in a PKCS#12 file: its private key and the certificates
/// that go with it, opened with `password` (none: the empty password).
fn pkcs12_identity(
    path: &Path,
    bytes: &[u8],
    password: Option<&str>,
) -> Result<Identity, TransportError> {
    use p12_keystore::{KeyStore, Pkcs12ImportPolicy};
    let store = KeyStore::from_pkcs12(bytes, password.unwrap_or(""), Pkcs12ImportPolicy::Strict)
        .map_err(|e| {
            let why = e.to_string();
            let mac = why.to_ascii_lowercase().contains("mac");
            tls_error(
                path,
                match (mac, password) {
                    (true, None) => "the PKCS#12 file needs a password: set `tls.password`, e.g. \
                                     \"{{ secret('client-p12') }}\""
                        .to_string(),
                    (true, Some(_)) => {
                        "cannot open the PKCS#12 file: wrong `tls.password`".to_string()
                    }
                    (false, _) => format!("not a PKCS#12 file pytopus can read ({why})"),
                },
            )
        })?;
    let Some((_, chain)) = store.private_key_chain() else {
        return Err(tls_error(
            path,
            "the PKCS#12 file holds no private key with its certificate",
        ));
    };
    Ok(Identity {
        chain: chain
            .certs()
            .iter()
            .map(|c| CertificateDer::from(c.as_der().to_vec()))
            .collect(),
        key: PrivateKeyDer::Pkcs8(chain.key().as_der().to_vec().into()),
        key_path: path.to_path_buf(),
    })
}

/// A client identity: its certificate chain, its private key, and the file
/// the key came from (to name it when the key is refused).
struct Identity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    key_path: std::path::PathBuf,
}

/// The client identity: the certificate chain from `cert`, the key from
/// `key` or, without one, from `cert` too; or both from a PKCS#12 `cert`.
fn identity(
    cert: &Path,
    key: Option<&Path>,
    password: Option<&str>,
) -> Result<Identity, TransportError> {
    let head = crate::files::read_bytes(cert, MAX_PKCS12)
        .map_err(|e| tls_error(cert, format!("cannot read: {e}")))?;
    if named_pkcs12(cert) || is_der(&head) {
        let pfx = pkcs12_identity(cert, &head, password);
        // Binary that is not PKCS#12 at all (a DER certificate) is told
        // what to convert it to, below.
        let not_pfx =
            matches!(&pfx, Err(TransportError::Tls(m)) if m.contains("not a PKCS#12 file"));
        if named_pkcs12(cert) || !not_pfx {
            if let Some(k) = key {
                return Err(tls_error(
                    k,
                    "`client_key` is not used with a PKCS#12 `client_cert`, which holds the key",
                ));
            }
            return pfx;
        }
    }
    let cert_blocks = pem_blocks(cert, "a PEM `CERTIFICATE` block")?;
    let certs: Vec<&PemBlock> = cert_blocks
        .iter()
        .filter(|b| b.label == "CERTIFICATE")
        .collect();
    if certs.is_empty() {
        return Err(tls_error(
            cert,
            "no certificate found (expected a PEM `CERTIFICATE` block)",
        ));
    }
    // Checked here so that a broken certificate is blamed on its file, not on the key.
    let chain: String = certs.iter().map(|b| b.text.as_str()).collect();
    let chain = CertificateDer::pem_slice_iter(chain.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_error(cert, format!("a certificate is not valid: {e}")))?;
    let key_blocks;
    let (key_path, key_block) = match key {
        Some(key) => {
            key_blocks = pem_blocks(key, "a PEM `PRIVATE KEY` block")?;
            let keys = keys_in(key, &key_blocks)?;
            let Some(block) = keys.first() else {
                return Err(tls_error(
                    key,
                    "no private key found (expected a PEM `PRIVATE KEY` block)",
                ));
            };
            (key, *block)
        }
        None => {
            let keys = keys_in(cert, &cert_blocks)?;
            let Some(block) = keys.first() else {
                return Err(tls_error(
                    cert,
                    "no private key found (expected a PEM `PRIVATE KEY` block, or set client_key)",
                ));
            };
            (cert, *block)
        }
    };
    let key = PrivateKeyDer::from_pem_slice(key_block.text.as_bytes())
        .map_err(|e| tls_error(key_path, format!("the private key is not valid: {e}")))?;
    Ok(Identity {
        chain,
        key,
        key_path: key_path.to_path_buf(),
    })
}

/// Every certificate of a CA bundle.
fn ca_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TransportError> {
    let blocks = pem_blocks(path, "PEM `CERTIFICATE` blocks")?;
    let pem: String = blocks
        .iter()
        .filter(|b| b.label == "CERTIFICATE")
        .map(|b| b.text.as_str())
        .collect();
    if pem.is_empty() {
        return Err(tls_error(
            path,
            "no certificate found (expected PEM `CERTIFICATE` blocks)",
        ));
    }
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_error(path, format!("a certificate is not valid: {e}")))
}

/// Why rustls refused the client identity, naming the file at fault: the
/// key when it does not match the certificate or cannot be used, else the
/// certificate.
fn identity_error(cert: &Path, key: &Path, e: &rustls::Error) -> TransportError {
    let why = rustls_error(e);
    if matches!(e, rustls::Error::InconsistentKeys(_)) {
        return tls_error(
            key,
            format!(
                "the private key does not belong to the certificate in {}",
                cert.display()
            ),
        );
    }
    if why.contains("private key") {
        return tls_error(key, format!("the private key cannot be used: {why}"));
    }
    tls_error(
        cert,
        format!("the certificate cannot be used: {why}{}", der_hint(&why)),
    )
}

/// A rustls error about a local file, without the words that suit a
/// handshake ("invalid peer certificate").
fn rustls_error(e: &rustls::Error) -> String {
    e.to_string()
        .replace("invalid peer certificate: ", "")
        .replace("unexpected error: ", "")
}

fn der_hint(why: &str) -> &'static str {
    if why.contains("BadEncoding") {
        " (the PEM block does not hold a valid X.509 certificate)"
    } else {
        ""
    }
}
