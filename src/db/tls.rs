//! TLS to the database the way libpq does it, with rustls (no system OpenSSL):
//! `sslmode` `disable | allow | prefer | require | verify-ca | verify-full`, `sslrootcert` (a
//! PEM bundle such as the RDS CA bundle, or `system` for the operating system's roots),
//! `sslcert` / `sslkey` (a client certificate). As in libpq, `require` with a root
//! certificate verifies the chain as `verify-ca` does, and Unix sockets never use TLS.
//! See <https://www.postgresql.org/docs/current/libpq-ssl.html>.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::error::{Error, Result};

/// How much TLS a connection asks for, as libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslMode {
    Disable,
    /// Plain first; TLS only if the server refuses plain connections.
    Allow,
    /// TLS if the server offers it, else plain (libpq's default).
    #[default]
    Prefer,
    /// TLS always; the certificate is not checked (unless a root certificate is given).
    Require,
    /// TLS, with a certificate signed by a CA of `sslrootcert`.
    VerifyCa,
    /// As `VerifyCa`, and the certificate is for the host connected to.
    VerifyFull,
}

impl SslMode {
    /// Parses a libpq mode name.
    pub fn parse(name: &str) -> Result<Self> {
        Ok(match name {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(Error::config(format!(
                    "sslmode {other:?} is unknown (expected disable, allow, prefer, require, verify-ca or verify-full)"
                )));
            }
        })
    }

    /// The name libpq gives it.
    pub fn name(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// The TLS settings of a connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    pub mode: SslMode,
    /// A PEM file of CA certificates, or `system`.
    pub root_cert: Option<String>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

/// What the certificate check does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    Nothing,
    Chain,
    ChainAndHost,
}

impl TlsOptions {
    fn check(&self) -> Check {
        match self.mode {
            SslMode::VerifyFull => Check::ChainAndHost,
            SslMode::VerifyCa => Check::Chain,
            // libpq: with a root certificate file, `require` verifies as `verify-ca`.
            SslMode::Require if self.root_cert.is_some() => Check::Chain,
            _ => Check::Nothing,
        }
    }

    /// The rustls connector for these settings.
    ///
    /// # Errors
    ///
    /// Configuration when a certificate or key file is missing or not PEM, or a verifying
    /// mode has no root certificate to verify with.
    pub fn connector(&self) -> Result<MakeRustlsConnect> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|error| Error::config(format!("TLS: {error}")))?;
        let verifier: Arc<dyn ServerCertVerifier> = match self.check() {
            Check::Nothing => Arc::new(NoCheck(provider.clone())),
            check => {
                let roots = self.roots()?;
                let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|error| Error::config(format!("TLS: sslrootcert: {error}")))?;
                if check == Check::ChainAndHost {
                    webpki
                } else {
                    Arc::new(ChainOnly(webpki))
                }
            }
        };
        let builder = builder.dangerous().with_custom_certificate_verifier(verifier);
        let config = match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => {
                let certs = CertificateDer::pem_file_iter(cert)
                    .and_then(Iterator::collect::<std::result::Result<Vec<_>, _>>)
                    .map_err(|error| Error::config(format!("sslcert {}: {error}", cert.display())))?;
                let key = PrivateKeyDer::from_pem_file(key)
                    .map_err(|error| Error::config(format!("sslkey {}: {error}", key.display())))?;
                builder
                    .with_client_auth_cert(certs, key)
                    .map_err(|error| Error::config(format!("sslcert/sslkey: {error}")))?
            }
            (None, None) => builder.with_no_client_auth(),
            _ => return Err(Error::config("sslcert and sslkey go together: give both, or neither")),
        };
        Ok(MakeRustlsConnect::new(config))
    }

    fn roots(&self) -> Result<RootCertStore> {
        let mut roots = RootCertStore::empty();
        let path = match self.root_cert.as_deref() {
            Some("system") => {
                let found = rustls_native_certs::load_native_certs();
                roots.add_parsable_certificates(found.certs);
                return Ok(roots);
            }
            Some(path) => PathBuf::from(path),
            None => {
                // libpq's default, ~/.postgresql/root.crt.
                let default = std::env::var_os("HOME")
                    .map(|home| PathBuf::from(home).join(".postgresql/root.crt"))
                    .filter(|path| path.is_file());
                default.ok_or_else(|| {
                    Error::config(format!(
                        "sslmode={} verifies the server's certificate and needs sslrootcert (a PEM bundle \
                         such as the RDS CA bundle, or \"system\"); ~/.postgresql/root.crt does not exist",
                        self.mode.name()
                    ))
                })?
            }
        };
        let certs = CertificateDer::pem_file_iter(&path)
            .and_then(Iterator::collect::<std::result::Result<Vec<_>, _>>)
            .map_err(|error| Error::config(format!("sslrootcert {}: {error}", path.display())))?;
        let (added, _) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(Error::config(format!(
                "sslrootcert {}: no certificate in it",
                path.display()
            )));
        }
        Ok(roots)
    }
}

/// Says which check a TLS handshake failed, when the error is one: a certificate that does
/// not verify is a configuration problem (78), never worth a retry.
pub fn tls_problem(error: &tokio_postgres::Error, options: &TlsOptions) -> Option<String> {
    let text = error.to_string();
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(error);
    while let Some(cause) = source {
        // tokio-rustls hands rustls's error inside an io::Error, whose `source()` skips it.
        let rustls = cause.downcast_ref::<rustls::Error>().or_else(|| {
            cause
                .downcast_ref::<std::io::Error>()
                .and_then(std::io::Error::get_ref)
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        });
        if let Some(rustls::Error::InvalidCertificate(certificate)) = rustls {
            let root = options.root_cert.as_deref().unwrap_or("~/.postgresql/root.crt");
            let why = match certificate {
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                    "the server's certificate is not for this host name (sslmode=verify-full checks it)".to_owned()
                }
                CertificateError::UnknownIssuer | CertificateError::BadSignature => {
                    format!("the server's certificate is not signed by a CA of sslrootcert ({root})")
                }
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    "the server's certificate has expired".to_owned()
                }
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                    "the server's certificate is not valid yet".to_owned()
                }
                other => format!("the server's certificate does not verify: {other:?}"),
            };
            return Some(format!("TLS verification failed: {why}"));
        }
        source = cause.source();
    }
    if text.contains("server does not support TLS") {
        return Some(format!(
            "the server does not accept TLS, which sslmode={} requires",
            options.mode.name()
        ));
    }
    text.starts_with("error performing TLS handshake")
        .then(|| format!("TLS handshake failed: {}", crate::error::with_causes(error)))
}

/// Accepts any certificate (`prefer`, `require` without a root certificate: encryption
/// without authentication, as libpq does), still checking the handshake's signatures.
#[derive(Debug)]
struct NoCheck(Arc<CryptoProvider>);

impl ServerCertVerifier for NoCheck {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain must verify; the host name is not checked.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}
