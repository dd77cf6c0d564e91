//! moto in server mode (`pip install 'moto[server]'`): AWS's APIs on loopback, for the
//! tests of `pgbatch submit` (AWS Batch) and of S3 checksums.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// An authorization header naming `service`: all moto's server reads of it, to route the
/// request (it checks no signature).
pub(crate) fn signed_for(service: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=testing/20261130/eu-west-1/{service}/aws4_request, SignedHeaders=host, Signature=0"
    )
}

/// moto's server on a free loopback port, stopped when dropped.
pub(crate) struct Moto {
    child: Child,
    pub(crate) url: String,
}

impl Moto {
    pub(crate) fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new("python3")
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let mut moto = Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = moto.child.try_wait() {
                let mut text = String::new();
                std::io::Read::read_to_string(moto.child.stderr.as_mut().unwrap(), &mut text).unwrap();
                panic!("moto's server exited ({status}); install it: pip install 'moto[server]'\n{text}");
            }
            assert!(Instant::now() < deadline, "moto's server did not start listening");
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    pub(crate) async fn post(&self, path: &str, body: String) -> String {
        let response = reqwest::Client::new()
            .post(format!("{}{path}", self.url))
            .header("authorization", signed_for("batch"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {text}");
        text
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// AWS settings that reach only the test's server.
pub(crate) const AWS_ENV: [(&str, &str); 6] = [
    ("AWS_ACCESS_KEY_ID", "testing"),
    ("AWS_SECRET_ACCESS_KEY", "testing"),
    ("AWS_REGION", "eu-west-1"),
    ("AWS_EC2_METADATA_DISABLED", "true"),
    ("AWS_CONFIG_FILE", "/nonexistent"),
    ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"),
];
