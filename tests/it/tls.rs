//! `tls:` in the live transport: client certificates (mTLS), private CAs and
//! `verify: false`, against HTTPS servers started by each test on
//! 127.0.0.1:0 with certificates made at test time.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;

use crate::support::{Output, Scratch, closed_port, pytopus, run_cmd};

const CLIENT_CN: &str = "pytopus-test-client";

/// A certificate authority that signs certificates for the tests.
pub(crate) struct Ca {
    issuer: Issuer<'static, KeyPair>,
    der: CertificateDer<'static>,
    pub(crate) pem: String,
}

/// A certificate with its private key.
pub(crate) struct Leaf {
    pub(crate) der: CertificateDer<'static>,
    cert_pem: String,
    pub(crate) key: KeyPair,
}

impl Ca {
    pub(crate) fn new(cn: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, cn);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().expect("CA key");
        let cert = params.self_signed(&key).expect("self-signed CA");
        Ca {
            der: cert.der().clone(),
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    fn sign(&self, cn: &str, names: &[&str], usage: ExtendedKeyUsagePurpose) -> Leaf {
        let names = names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        let mut params = CertificateParams::new(names).expect("leaf params");
        params.distinguished_name.push(DnType::CommonName, cn);
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate().expect("leaf key");
        let cert = params.signed_by(&key, &self.issuer).expect("signed leaf");
        Leaf {
            der: cert.der().clone(),
            cert_pem: cert.pem(),
            key,
        }
    }

    pub(crate) fn server_cert(&self) -> Leaf {
        self.sign(
            "test server",
            &["127.0.0.1", "localhost"],
            ExtendedKeyUsagePurpose::ServerAuth,
        )
    }

    fn client_cert(&self, cn: &str) -> Leaf {
        self.sign(cn, &[], ExtendedKeyUsagePurpose::ClientAuth)
    }
}

/// Everything a test needs on disk: a CA, a client certificate it signed,
/// and the server certificates of a trusted and an untrusted ("rogue") CA.
struct Pki {
    dir: Scratch,
    ca: Ca,
    server: Leaf,
    rogue_server: Leaf,
}

impl Pki {
    fn new() -> Pki {
        let dir = Scratch::new();
        let ca = Ca::new("pytopus test CA");
        let rogue = Ca::new("rogue CA");
        let client = ca.client_cert(CLIENT_CN);
        dir.file("ca.pem", &ca.pem);
        dir.file("rogue-ca.pem", &rogue.pem);
        dir.file("client.pem", &client.cert_pem);
        dir.file("client.key", &client.key.serialize_pem());
        dir.file(
            "client-combined.pem",
            &format!("{}{}", client.cert_pem, client.key.serialize_pem()),
        );
        // The same identity as PKCS#12, with a password.
        let mut store = p12_keystore::KeyStore::new();
        let chain = p12_keystore::PrivateKeyChain::new(
            b"client".to_vec(),
            p12_keystore::PrivateKey::from_der(&client.key.serialize_der()).expect("PKCS#8 key"),
            [
                p12_keystore::Certificate::from_der(&client.der).expect("client cert"),
                p12_keystore::Certificate::from_der(&ca.der).expect("CA cert"),
            ],
        );
        store.add_entry(
            "client",
            p12_keystore::KeyStoreEntry::PrivateKeyChain(chain),
        );
        let p12 = store.writer(P12_PASSWORD).write().expect("PKCS#12");
        std::fs::write(dir.path("client.p12"), &p12).expect("write p12");
        Pki {
            server: ca.server_cert(),
            rogue_server: rogue.server_cert(),
            dir,
            ca,
        }
    }

    /// An absolute path in the scratch dir, quoted for YAML.
    fn path(&self, name: &str) -> String {
        let path: PathBuf = self.dir.path(name);
        format!("{:?}", path.to_str().expect("UTF-8 temp path"))
    }

    /// A server with the trusted CA's certificate that requires a client
    /// certificate signed by that CA.
    fn mtls_server(&self) -> String {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca.der.clone()).expect("CA is a valid root");
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
            .build()
            .expect("client verifier");
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_client_cert_verifier(verifier)
            .with_single_cert(vec![self.server.der.clone()], private_key(&self.server))
            .expect("server certificate");
        serve(config)
    }

    /// A server whose certificate comes from the rogue CA, with no client auth.
    fn rogue_server(&self) -> String {
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![self.rogue_server.der.clone()],
                private_key(&self.rogue_server),
            )
            .expect("server certificate");
        serve(config)
    }

    /// Runs `chain` (written to the scratch dir) with `args` after it.
    fn run(&self, chain: &str, args: &[&str]) -> Output {
        let path = self.dir.file("chain.yaml", chain);
        let mut cmd = pytopus();
        cmd.arg("run").arg(&path).args(args);
        // The system trust store must not decide these tests.
        cmd.env_remove("SSL_CERT_FILE").env_remove("SSL_CERT_DIR");
        run_cmd(&mut cmd)
    }
}

pub(crate) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

pub(crate) fn private_key(leaf: &Leaf) -> PrivateKeyDer<'static> {
    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf.key.serialize_der()))
}

/// Serves HTTPS on 127.0.0.1:0 until the test process ends and returns the
/// base URL. Every request gets `200 {"client_cn": CN}`, the common name of
/// the certificate the client presented, or `null` for none.
fn serve(config: rustls::ServerConfig) -> String {
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let base = format!(
        "https://127.0.0.1:{}",
        listener.local_addr().expect("addr").port()
    );
    std::thread::spawn(move || {
        for sock in listener.incoming().flatten() {
            let config = Arc::clone(&config);
            std::thread::spawn(move || answer(config, sock));
        }
    });
    base
}

/// One connection: handshake, read the request head, answer, close.
fn answer(config: Arc<rustls::ServerConfig>, sock: TcpStream) {
    let _ = sock.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(conn) = rustls::ServerConnection::new(config) else {
        return;
    };
    let mut tls = rustls::StreamOwned::new(conn, sock);
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match tls.read(&mut buf) {
            Ok(n) if n > 0 => head.extend_from_slice(&buf[..n]),
            // A failed handshake: rustls has written its alert. Closing now,
            // with the client's request unread, would send a TCP reset that
            // can overtake the alert; let the client close first.
            _ => return linger(tls.sock),
        }
    }
    let cn = tls
        .conn
        .peer_certificates()
        .and_then(|certs| certs.first())
        .and_then(|cert| subject_cn(cert));
    let body = format!(
        "{{\"client_cn\": {}}}",
        cn.map_or("null".to_string(), |cn| format!("{cn:?}"))
    );
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tls.write_all(response.as_bytes());
    tls.conn.send_close_notify();
    let _ = tls.flush();
}

fn linger(mut sock: TcpStream) {
    let _ = sock.shutdown(Shutdown::Write);
    let _ = sock.set_read_timeout(Some(Duration::from_secs(2)));
    let mut buf = [0u8; 4096];
    while matches!(sock.read(&mut buf), Ok(n) if n > 0) {}
}

/// The subject common name of a DER certificate. X.509 is
/// `SEQUENCE { tbs SEQUENCE { [0] version?, serial, signature, issuer,
/// validity, subject, … }, … }`; the subject is a sequence of sets of
/// `SEQUENCE { OID, value }`, and 2.5.4.3 (`55 04 03`) is the CN.
fn subject_cn(der: &[u8]) -> Option<String> {
    let (_, cert, _) = tlv(der)?;
    let (_, tbs, _) = tlv(cert)?;
    let mut rest = tbs;
    if rest.first() == Some(&0xa0) {
        rest = tlv(rest)?.2;
    }
    for _ in 0..4 {
        rest = tlv(rest)?.2;
    }
    let (_, mut rdns, _) = tlv(rest)?;
    while !rdns.is_empty() {
        let (_, set, next) = tlv(rdns)?;
        rdns = next;
        let (_, attribute, _) = tlv(set)?;
        let (_, oid, value) = tlv(attribute)?;
        if oid == [0x55, 0x04, 0x03] {
            return String::from_utf8(tlv(value)?.1.to_vec()).ok();
        }
    }
    None
}

/// One DER tag-length-value: (tag, content, what follows).
fn tlv(bytes: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *bytes.first()?;
    let first = usize::from(*bytes.get(1)?);
    let (len, header) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | usize::from(*bytes.get(2 + i)?);
        }
        (len, 2 + n)
    };
    let content = bytes.get(header..header + len)?;
    Some((tag, content, &bytes[header + len..]))
}

/// A one-step chain: GET `url` with `tls` (a YAML flow map).
fn chain(url: &str, tls: &str) -> String {
    format!("steps:\n  - name: Whoami\n    url: {url}/whoami\n    tls: {tls}\n")
}

fn assert_no_panic(out: &Output) {
    assert!(
        !out.stderr.contains("panicked"),
        "pytopus panicked:\n{}",
        out.stderr
    );
}

#[test]
fn client_certificate_and_private_ca_reach_an_mtls_server() {
    let pki = Pki::new();
    let url = pki.mtls_server();
    let tls = format!(
        "{{client_cert: {}, client_key: {}, ca_cert: {}}}",
        pki.path("client.pem"),
        pki.path("client.key"),
        pki.path("ca.pem")
    );
    let out = pki.run(&chain(&url, &tls), &["-q"]);
    assert_eq!(out.code, 0, "stderr:\n{}", out.stderr);
    assert!(
        out.stdout
            .contains(&format!("\"client_cn\": \"{CLIENT_CN}\"")),
        "the server did not see the client certificate:\n{}",
        out.stdout
    );
    assert_eq!(out.stderr, "", "nothing to warn about");
}

#[test]
fn certificate_and_key_in_one_file_from_defaults() {
    let pki = Pki::new();
    let url = pki.mtls_server();
    let chain = format!(
        "defaults:\n  tls: {{client_cert: {}, ca_cert: {}}}\n\
         steps:\n  - name: First\n    url: {url}/one\n  - name: Second\n    url: {url}/two\n",
        pki.path("client-combined.pem"),
        pki.path("ca.pem")
    );
    let out = pki.run(&chain, &["-q"]);
    assert_eq!(out.code, 0, "stderr:\n{}", out.stderr);
    assert!(out.stdout.contains(CLIENT_CN), "stdout:\n{}", out.stdout);
}

#[test]
fn a_step_without_tls_does_not_borrow_another_steps_certificate() {
    let pki = Pki::new();
    let url = pki.mtls_server();
    let chain = format!(
        "steps:\n  - name: WithCert\n    url: {url}/one\n    \
         tls: {{client_cert: {}, client_key: {}, ca_cert: {}}}\n  \
         - name: Without\n    url: {url}/two\n",
        pki.path("client.pem"),
        pki.path("client.key"),
        pki.path("ca.pem")
    );
    let out = pki.run(&chain, &[]);
    assert_eq!(out.code, 1, "stderr:\n{}", out.stderr);
    assert!(
        out.stderr.contains("ok WithCert"),
        "stderr:\n{}",
        out.stderr
    );
    // The default client trusts neither the test CA nor has a certificate.
    assert!(
        out.stderr.contains("step `Without` failed: TLS error"),
        "stderr:\n{}",
        out.stderr
    );
}

#[test]
fn no_client_certificate_is_a_clear_tls_error() {
    let pki = Pki::new();
    let url = pki.mtls_server();
    let tls = format!("{{ca_cert: {}}}", pki.path("ca.pem"));
    let out = pki.run(&chain(&url, &tls), &[]);
    assert_no_panic(&out);
    assert_eq!(out.code, 1, "stderr:\n{}", out.stderr);
    assert!(
        out.stderr
            .contains("error: step `Whoami` failed: TLS error"),
        "stderr:\n{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("CertificateRequired"),
        "the rustls alert should be named:\n{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("requires a client certificate"),
        "stderr should explain the alert:\n{}",
        out.stderr
    );
}

#[test]
fn a_server_certificate_from_an_unknown_ca_is_refused_with_a_hint() {
    let pki = Pki::new();
    let url = pki.rogue_server();
    let tls = format!(
        "{{client_cert: {}, client_key: {}}}",
        pki.path("client.pem"),
        pki.path("client.key")
    );
    let out = pki.run(&chain(&url, &tls), &[]);
    assert_no_panic(&out);
    assert_eq!(out.code, 1, "stderr:\n{}", out.stderr);
    assert!(
        out.stderr.contains("TLS error") && out.stderr.contains("UnknownIssuer"),
        "stderr:\n{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("help:") && out.stderr.contains("SSL_CERT_FILE"),
        "the help for TLS errors is missing:\n{}",
        out.stderr
    );
}

#[test]
fn the_wrong_ca_is_refused_too() {
    let pki = Pki::new();
    let url = pki.rogue_server();
    let tls = format!("{{ca_cert: {}}}", pki.path("ca.pem"));
    let out = pki.run(&chain(&url, &tls), &[]);
    assert_eq!(out.code, 1, "stderr:\n{}", out.stderr);
    assert!(
        out.stderr.contains("UnknownIssuer"),
        "stderr:\n{}",
        out.stderr
    );
}

#[test]
fn a_ca_with_the_right_name_but_another_key_gets_a_hint() {
    let pki = Pki::new();
    let url = pki.mtls_server();
    // A regenerated CA: same name as the one that signed the server, new key.
    pki.dir
        .file("regenerated-ca.pem", &Ca::new("pytopus test CA").pem);
    let tls = format!(
        "{{client_cert: {}, client_key: {}, ca_cert: {}}}",
        pki.path("client.pem"),
        pki.path("client.key"),
        pki.path("regenerated-ca.pem")
    );
    let out = pki.run(&chain(&url, &tls), &[]);
    assert_eq!(out.code, 1, "stderr:\n{}", out.stderr);
    assert!(
        out.stderr
            .contains("is `tls.ca_cert` the CA that signed this certificate?"),
        "stderr:\n{}",
        out.stderr
    );
}

#[test]
fn verify_false_accepts_any_server_certificate_and_says_so() {
    let pki = Pki::new();
    let url = pki.rogue_server();
    let chain = format!(
        "defaults:\n  tls: {{verify: false}}\n\
         steps:\n  - name: First\n    url: {url}/one\n  - name: Second\n    url: {url}/two\n"
    );
    // -q silences progress, not a security warning.
    let out = pki.run(&chain, &["-q"]);
    assert_eq!(out.code, 0, "stderr:\n{}", out.stderr);
    assert!(out.stdout.contains("\"client_cn\": null"), "{}", out.stdout);
    let host = url.trim_start_matches("https://");
    let warning = format!(
        "warning: TLS certificate verification is off for {host} (tls.verify: false or --insecure): \
         anyone on the network can read and change this traffic\n"
    );
    assert_eq!(out.stderr, warning, "one warning per host and run");
}

#[test]
fn insecure_on_the_command_line_is_verify_false_for_every_step() {
    let pki = Pki::new();
    let url = pki.rogue_server();
    let chain = format!("steps:\n  - name: First\n    url: {url}/one\n");
    let refused = pki.run(&chain, &["-q"]);
    assert_eq!(
        refused.code, 1,
        "the rogue certificate is refused by default"
    );
    let out = pki.run(&chain, &["-q", "--insecure"]);
    assert_eq!(out.code, 0, "stderr:\n{}", out.stderr);
    assert!(
        out.stderr.contains("(tls.verify: false or --insecure)"),
        "{}",
        out.stderr
    );
    assert_eq!(pki.run(&chain, &["-q", "-k"]).code, 0);
}

const P12_PASSWORD: &str = "p12-canary-password-81";

#[test]
fn a_pkcs12_client_certificate_opens_with_its_password_from_a_secret() {
    let pki = Pki::new();
    let url = pki.mtls_server();
    let tls = format!(
        "{{client_cert: {}, password: \"{{{{ secret('p12') }}}}\", ca_cert: {}}}",
        pki.path("client.p12"),
        pki.path("ca.pem")
    );
    let run = |password: Option<&str>| {
        let path = pki.dir.file("chain.yaml", &chain(&url, &tls));
        let mut cmd = pytopus();
        cmd.arg("run").arg(&path).args(["--no-progress"]);
        cmd.env_remove("SSL_CERT_FILE").env_remove("SSL_CERT_DIR");
        match password {
            Some(p) => cmd.env("PYTOPUS_SECRET_P12", p),
            None => cmd.env_remove("PYTOPUS_SECRET_P12"),
        };
        run_cmd(&mut cmd)
    };
    let out = run(Some(P12_PASSWORD));
    assert_eq!(out.code, 0, "stderr:\n{}", out.stderr);
    assert!(out.stdout.contains(CLIENT_CN), "stdout:\n{}", out.stdout);
    let wrong = run(Some("not-the-password-1"));
    assert_eq!(wrong.code, 1, "{}", wrong.stderr);
    assert!(
        wrong
            .stderr
            .contains("client.p12: cannot open the PKCS#12 file: wrong `tls.password`"),
        "{}",
        wrong.stderr
    );
    for out in [&out, &wrong] {
        assert!(!out.stderr.contains(P12_PASSWORD) && !out.stdout.contains(P12_PASSWORD));
    }
    // Without `password`, the file says it needs one.
    let plain = format!(
        "{{client_cert: {}, ca_cert: {}}}",
        pki.path("client.p12"),
        pki.path("ca.pem")
    );
    let out = pki.run(&chain(&url, &plain), &["-q"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("the PKCS#12 file needs a password: set `tls.password`"),
        "{}",
        out.stderr
    );
}

#[test]
fn verify_false_still_presents_the_client_certificate() {
    let pki = Pki::new();
    let url = pki.mtls_server();
    let tls = format!(
        "{{client_cert: {}, client_key: {}, verify: false}}",
        pki.path("client.pem"),
        pki.path("client.key")
    );
    let out = pki.run(&chain(&url, &tls), &["-q"]);
    assert_eq!(out.code, 0, "stderr:\n{}", out.stderr);
    assert!(out.stdout.contains(CLIENT_CN), "stdout:\n{}", out.stdout);
    assert!(
        out.stderr
            .contains("warning: TLS certificate verification is off"),
        "stderr:\n{}",
        out.stderr
    );
}

/// Runs a one-step chain with `tls` against a port where nothing listens:
/// the files are read before any connection, so that is where it fails.
fn bad_files(pki: &Pki, tls: &str) -> Output {
    let url = format!("https://127.0.0.1:{}", closed_port());
    let out = pki.run(&chain(&url, tls), &[]);
    assert_no_panic(&out);
    assert_eq!(out.code, 1, "stderr:\n{}", out.stderr);
    assert!(
        out.stderr
            .contains("error: step `Whoami` failed: TLS error"),
        "stderr:\n{}",
        out.stderr
    );
    out
}

#[test]
fn a_client_certificate_that_is_not_pem_is_named() {
    let pki = Pki::new();
    pki.dir.file("notes.txt", "this is not a certificate\n");
    let out = bad_files(
        &pki,
        &format!(
            "{{client_cert: {}, client_key: {}}}",
            pki.path("notes.txt"),
            pki.path("client.key")
        ),
    );
    let notes = pki.dir.path("notes.txt");
    assert!(
        out.stderr.contains(&format!(
            "{}: not a PEM file: expected a PEM `CERTIFICATE` block",
            notes.display()
        )),
        "stderr:\n{}",
        out.stderr
    );
}

#[test]
fn a_der_certificate_gets_a_conversion_hint() {
    let pki = Pki::new();
    let der_path = pki.dir.path("client.der");
    std::fs::write(&der_path, pki.ca.der.as_ref()).expect("write DER");
    let out = bad_files(
        &pki,
        &format!(
            "{{client_cert: {}, client_key: {}}}",
            pki.path("client.der"),
            pki.path("client.key")
        ),
    );
    assert!(
        out.stderr.contains("binary DER") && out.stderr.contains("openssl x509 -inform der"),
        "stderr:\n{}",
        out.stderr
    );
}

#[test]
fn a_certificate_without_its_key_says_where_the_key_should_be() {
    let pki = Pki::new();
    let out = bad_files(
        &pki,
        &format!("{{client_cert: {}}}", pki.path("client.pem")),
    );
    assert!(
        out.stderr.contains(&format!(
            "{}: no private key found (expected a PEM `PRIVATE KEY` block, or set client_key)",
            pki.dir.path("client.pem").display()
        )),
        "stderr:\n{}",
        out.stderr
    );
}

#[test]
fn a_key_from_another_certificate_is_refused() {
    let pki = Pki::new();
    pki.dir.file(
        "other.key",
        &KeyPair::generate().expect("key").serialize_pem(),
    );
    let out = bad_files(
        &pki,
        &format!(
            "{{client_cert: {}, client_key: {}}}",
            pki.path("client.pem"),
            pki.path("other.key")
        ),
    );
    assert!(
        out.stderr.contains(&format!(
            "{}: the private key does not belong to the certificate in {}",
            pki.dir.path("other.key").display(),
            pki.dir.path("client.pem").display()
        )),
        "stderr:\n{}",
        out.stderr
    );
}

#[test]
fn a_ca_file_without_certificates_is_named() {
    let pki = Pki::new();
    let out = bad_files(&pki, &format!("{{ca_cert: {}}}", pki.path("client.key")));
    assert!(
        out.stderr.contains(&format!(
            "{}: no certificate found (expected PEM `CERTIFICATE` blocks)",
            pki.dir.path("client.key").display()
        )),
        "stderr:\n{}",
        out.stderr
    );
}

#[test]
fn a_pem_block_that_is_not_a_certificate_is_named() {
    let pki = Pki::new();
    pki.dir.file(
        "broken.pem",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    );
    let out = bad_files(&pki, &format!("{{ca_cert: {}}}", pki.path("broken.pem")));
    assert!(
        out.stderr.contains(&format!(
            "{}: a CA certificate cannot be used",
            pki.dir.path("broken.pem").display()
        )),
        "stderr:\n{}",
        out.stderr
    );
}

#[test]
fn an_encrypted_key_says_how_to_decrypt_it() {
    let pki = Pki::new();
    // Only the label matters: pytopus stops before decoding the block.
    pki.dir.file(
        "encrypted.key",
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
    );
    let out = bad_files(
        &pki,
        &format!(
            "{{client_cert: {}, client_key: {}}}",
            pki.path("client.pem"),
            pki.path("encrypted.key")
        ),
    );
    assert!(
        out.stderr.contains("encrypted with a passphrase") && out.stderr.contains("openssl pkey"),
        "stderr:\n{}",
        out.stderr
    );
}

/// The default client (no `tls:`) reads the system's roots only at its first
/// handshake; they must still decide: refused without them, trusted when the
/// system store (here `SSL_CERT_FILE`) has the server's CA.
#[test]
fn the_default_client_trusts_the_system_roots_read_at_the_first_handshake() {
    let pki = Pki::new();
    let url = pki.rogue_server();
    let chain = format!("steps:\n  - name: Whoami\n    url: {url}/whoami\n");

    let refused = pki.run(&chain, &[]);
    assert_no_panic(&refused);
    assert_eq!(refused.code, 1, "stderr:\n{}", refused.stderr);
    assert!(
        refused.stderr.contains("TLS error") && refused.stderr.contains("UnknownIssuer"),
        "stderr:\n{}",
        refused.stderr
    );

    let path = pki.dir.file("plain.yaml", &chain);
    let mut cmd = pytopus();
    cmd.arg("run")
        .arg(&path)
        .env("SSL_CERT_FILE", pki.dir.path("rogue-ca.pem"))
        .env_remove("SSL_CERT_DIR");
    let trusted = run_cmd(&mut cmd);
    assert_eq!(trusted.code, 0, "stderr:\n{}", trusted.stderr);
    assert!(
        trusted.stdout.contains("\"client_cn\": null"),
        "{}",
        trusted.stdout
    );
}
