//! TLS as deployed: the bootstraps' AWS SDK client (`bootstraps::aws_config`)
//! and the portal client, both on rustls with *ring*, each complete a
//! handshake with a server whose certificate chains to a trusted root, and
//! refuse one whose root is not trusted.
//!
//! The servers are the embedded DynamoDB and the portal simulator behind a
//! TLS front on 127.0.0.1 (a certificate for `localhost` from the test CA
//! in `tests/tls/`). The clients run in a child process of this binary,
//! built exactly as the bootstraps build them; the only difference is
//! `SSL_CERT_FILE`, which names the trusted roots (the test CA, or none of
//! it) as on any Linux.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use portal_sim::DataConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use system_tests::{day, engine_url, fresh_store, portal_client, simulator};

/// The day the portal is asked for, and the simulator's "today".
const DAY: &str = "2016-01-05";

fn tls_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tls")
}

/// A TLS front on 127.0.0.1 for the plain-HTTP server at `upstream`
/// (`http://host:port`): `https://localhost:<port>`.
async fn tls_front(upstream: &str) -> String {
    let certs = CertificateDer::pem_file_iter(tls_dir().join("localhost.pem"))
        .expect("certificate file")
        .collect::<Result<Vec<_>, _>>()
        .expect("certificate");
    let key = PrivateKeyDer::from_pem_file(tls_dir().join("localhost.key")).expect("key");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocol versions")
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .expect("server certificate");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let port = listener.local_addr().expect("address").port();
    let upstream = upstream.trim_start_matches("http://").to_string();
    tokio::spawn(async move {
        while let Ok((inbound, _)) = listener.accept().await {
            let (acceptor, upstream) = (acceptor.clone(), upstream.clone());
            tokio::spawn(async move {
                // A refused handshake ends here: the client saw why.
                let Ok(mut inbound) = acceptor.accept(inbound).await else {
                    return;
                };
                let Ok(mut outbound) = tokio::net::TcpStream::connect(&upstream).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            });
        }
    });
    format!("https://localhost:{port}")
}

/// Runs [`child`] in a process of its own with `roots` as its trusted
/// roots; its output, and whether it succeeded.
fn run_child(roots: &std::path::Path, portal: &str, dynamodb: &str, table: &str) -> (bool, String) {
    let out = Command::new(std::env::current_exe().expect("own path"))
        .args([
            "--exact",
            "child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("SSL_CERT_FILE", roots)
        .env_remove("SSL_CERT_DIR")
        .env("TLS_TEST_PORTAL", portal)
        .env("TLS_TEST_TABLE", table)
        .env("AWS_ENDPOINT_URL", dynamodb)
        .env("AWS_REGION", "ap-northeast-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("child runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The value the child printed after `name=` (libtest may have put the
/// test's name before it on the line).
fn printed<'a>(output: &'a str, name: &str) -> Option<&'a str> {
    let start = format!("{name}=");
    output.lines().find_map(|line| {
        let at = line.find(start.as_str())?;
        line[at + start.len()..].split_whitespace().next()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deployed_clients_speak_tls_on_ring_and_check_the_certificate() {
    let store = fresh_store().await;
    let portal = simulator(DataConfig::default(), day(DAY)).await;
    let want = portal_client(&portal)
        .changes_on(day(DAY))
        .await
        .expect("the day over plain HTTP")
        .len();
    assert!(want > 0, "the simulator has records on {DAY}");
    let portal_tls = tls_front(&portal.url()).await;
    let dynamodb_tls = tls_front(&engine_url().await).await;

    let trusted = tls_dir().join("ca.pem");
    let (ok, output) = tokio::task::spawn_blocking({
        let (portal_tls, dynamodb_tls, table) = (
            portal_tls.clone(),
            dynamodb_tls.clone(),
            store.table().to_string(),
        );
        move || run_child(&trusted, &portal_tls, &dynamodb_tls, &table)
    })
    .await
    .expect("child joins");
    assert!(ok, "the clients failed over TLS:\n{output}");
    assert_eq!(
        printed(&output, "portal_records"),
        Some(want.to_string().as_str()),
        "{output}"
    );
    assert_eq!(printed(&output, "table"), Some(store.table()), "{output}");

    // The same servers, with roots that do not include the test CA.
    let untrusted = tls_dir().join("localhost.pem");
    let (ok, output) = tokio::task::spawn_blocking({
        let table = store.table().to_string();
        move || run_child(&untrusted, &portal_tls, &dynamodb_tls, &table)
    })
    .await
    .expect("child joins");
    assert!(
        !ok,
        "a certificate from an untrusted CA was accepted:\n{output}"
    );
    assert_eq!(printed(&output, "portal_refused"), Some("true"), "{output}");
    assert_eq!(
        printed(&output, "dynamodb_refused"),
        Some("true"),
        "{output}"
    );
}

/// The clients, as the bootstraps build them, against the servers the
/// parent names; prints what each got.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the child process of the TLS test, which sets its trusted roots"]
async fn child() {
    let var = |name: &str| std::env::var(name).expect("set by the parent test");
    let aws = bootstraps::aws_config().expect("the environment the parent set");
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws)
        .describe_table()
        .table_name(var("TLS_TEST_TABLE"))
        .send()
        .await;
    let mut config = system_tests::portal_config_for(&var("TLS_TEST_PORTAL"));
    config.max_attempts = 1;
    let portal = portal_client::PortalClient::new(config)
        .expect("client")
        .changes_on(day(DAY))
        .await;
    match &dynamodb {
        Ok(table) => println!(
            "table={}",
            table
                .table()
                .and_then(|t| t.table_name())
                .unwrap_or_default()
        ),
        Err(e) => println!(
            "dynamodb_refused={}\n{}",
            aws_sdk_dynamodb::error::DisplayErrorContext(e)
                .to_string()
                .contains("UnknownIssuer"),
            aws_sdk_dynamodb::error::DisplayErrorContext(e)
        ),
    }
    match &portal {
        Ok(records) => println!("portal_records={}", records.len()),
        Err(e) => println!(
            "portal_refused={}\n{e:?}",
            format!("{e:?}").contains("UnknownIssuer")
        ),
    }
    assert!(dynamodb.is_ok() && portal.is_ok(), "a client failed");
}
