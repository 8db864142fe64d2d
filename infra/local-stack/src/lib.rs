//! The AWS parts of the system on 127.0.0.1, in-process and without Docker:
//! DynamoDB (dynoxide, SQLite underneath) and S3 (s3s-fs over a folder),
//! plus SDK clients pointed at them. The `local-stack` binary and the tests
//! both start their engines here.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use aws_sdk_dynamodb::config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::config::{Credentials, SharedCredentialsProvider};
use aws_types::SdkConfig;
use tokio::net::TcpListener;
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::oneshot;

pub mod api;
pub mod lambda;
pub mod s3_events;
pub mod ssm;

/// Keys the local engines accept: s3s checks SigV4, so it needs a pair, and
/// DynamoDB Local takes only letters and digits in a key id.
pub const ACCESS_KEY: &str = "localAccessKey";
pub const SECRET_KEY: &str = "localSecretKey";
pub const REGION: &str = "ap-northeast-1";

#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("無法啟動本機 {what}：{detail}")]
    Start { what: &'static str, detail: String },
}

fn start_error(what: &'static str) -> impl FnOnce(String) -> StackError {
    move |detail| StackError::Start { what, detail }
}

/// A server running on 127.0.0.1 until dropped.
pub struct Running {
    pub address: SocketAddr,
    _stop: oneshot::Sender<()>,
}

impl Running {
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }
}

async fn loopback(
    port: u16,
) -> Result<
    (
        TcpListener,
        SocketAddr,
        oneshot::Sender<()>,
        oneshot::Receiver<()>,
    ),
    String,
> {
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| e.to_string())?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let (stop, stopped) = oneshot::channel();
    Ok((listener, address, stop, stopped))
}

/// Where dynoxide keeps its data.
pub enum DynamoStorage<'a> {
    /// Gone when the process ends; fastest (tests).
    Memory,
    /// A SQLite file that survives restarts (the local stack).
    File(&'a Path),
}

/// Starts the embedded DynamoDB; `port` 0 lets the system pick.
pub async fn start_dynamodb(storage: DynamoStorage<'_>, port: u16) -> Result<Running, StackError> {
    let fail = start_error("DynamoDB (dynoxide)");
    let db = match storage {
        DynamoStorage::Memory => dynoxide::Database::memory(),
        DynamoStorage::File(path) => dynoxide::Database::new(&path.to_string_lossy()),
    }
    .map_err(|e| e.to_string())
    .map_err(start_error("DynamoDB (dynoxide)"))?;
    let (listener, address, stop, stopped) = loopback(port).await.map_err(fail)?;
    tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        if let Err(e) = dynoxide::server::serve_with_shutdown(listener, db, shutdown).await {
            tracing::error!(error = %e, "embedded DynamoDB stopped");
        }
    });
    Ok(Running {
        address,
        _stop: stop,
    })
}

/// Starts the embedded S3 over `root`; `port` 0 lets the system pick.
/// With `events`, creating an object under a subscribed key sends the
/// S3 event there (see [`s3_events`]).
pub async fn start_s3(
    root: &Path,
    port: u16,
    events: Option<UnboundedSender<serde_json::Value>>,
) -> Result<Running, StackError> {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::server::conn::auto::Builder;

    let fail = start_error("S3 (s3s-fs)");
    std::fs::create_dir_all(root)
        .map_err(|e| e.to_string())
        .map_err(start_error("S3 (s3s-fs)"))?;
    let fs = s3s_fs::FileSystem::new(root)
        .map_err(|e| format!("{e:?}"))
        .map_err(start_error("S3 (s3s-fs)"))?;
    let fs = s3_events::Notifying::new(fs, root.to_path_buf(), events);
    let mut builder = s3s::service::S3ServiceBuilder::new(fs);
    builder.set_auth(s3s::auth::SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
    let s3 = builder.build();
    // CORS as the template gives the real bucket, so the staff page can
    // POST its upload form from another origin (here: another port). The
    // real bucket names the page's one origin; here any page on this
    // machine's loopback is the page.
    let service =
        hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
            let s3 = s3.clone();
            async move {
                use axum::http::{HeaderValue, Method, header};
                let origin = request
                    .headers()
                    .get(header::ORIGIN)
                    .filter(|o| o.as_bytes().starts_with(b"http://127.0.0.1:"))
                    .cloned();
                let mut response = if request.method() == Method::OPTIONS {
                    let mut preflight = hyper::Response::new(s3s::Body::empty());
                    let headers = preflight.headers_mut();
                    headers.insert(
                        header::ACCESS_CONTROL_ALLOW_METHODS,
                        HeaderValue::from_static("POST"),
                    );
                    headers.insert(
                        header::ACCESS_CONTROL_ALLOW_HEADERS,
                        HeaderValue::from_static("*"),
                    );
                    headers.insert(
                        header::ACCESS_CONTROL_MAX_AGE,
                        HeaderValue::from_static("3600"),
                    );
                    preflight
                } else {
                    s3.call(request.map(s3s::Body::from)).await?
                };
                if let Some(origin) = origin {
                    response
                        .headers_mut()
                        .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
                    response
                        .headers_mut()
                        .insert(header::VARY, HeaderValue::from_static("Origin"));
                }
                Ok::<_, s3s::HttpError>(response)
            }
        });
    let (listener, address, stop, mut stopped) = loopback(port).await.map_err(fail)?;
    tokio::spawn(async move {
        let http = Builder::new(TokioExecutor::new());
        loop {
            let socket = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((socket, _)) => socket,
                    Err(_) => continue,
                },
                _ = &mut stopped => break,
            };
            let connection = http
                .serve_connection(TokioIo::new(socket), service.clone())
                .into_owned();
            tokio::spawn(async move {
                let _ = connection.await;
            });
        }
    });
    Ok(Running {
        address,
        _stop: stop,
    })
}

/// Serves an axum `router` (the API, the SSM endpoint) on
/// 127.0.0.1:`port` (0 lets the system pick).
pub async fn serve(router: axum::Router, port: u16) -> Result<Running, StackError> {
    let (listener, address, stop, stopped) =
        loopback(port).await.map_err(start_error("HTTP API"))?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await;
    });
    Ok(Running {
        address,
        _stop: stop,
    })
}

/// SDK configuration for an engine on 127.0.0.1: fixed keys, no
/// credential chain, plain HTTP, nothing that reaches beyond the machine.
pub fn sdk_config(endpoint: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(sdk_http::client())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            ACCESS_KEY,
            SECRET_KEY,
            None,
            None,
            "local-stack",
        )))
        .build()
}

pub fn dynamodb_client(endpoint: &str) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&sdk_config(endpoint))
}

pub fn ssm_client(endpoint: &str) -> aws_sdk_ssm::Client {
    aws_sdk_ssm::Client::new(&sdk_config(endpoint))
}

pub fn s3_client(endpoint: &str) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(&sdk_config(endpoint))
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// Forwards connections made to `on` (a port the system picks) to
/// `target` on loopback: how containers on Docker's bridge reach an engine
/// (`scripts/sam-local.sh`) while the engine itself stays on 127.0.0.1.
/// Listens on that one address only, never on all interfaces.
pub async fn forward(on: IpAddr, target: SocketAddr) -> Result<Running, StackError> {
    let listener = TcpListener::bind((on, 0))
        .await
        .map_err(|e| e.to_string())
        .map_err(start_error("bridge forwarder"))?;
    let address = listener.local_addr().map_err(|e| StackError::Start {
        what: "bridge forwarder",
        detail: e.to_string(),
    })?;
    let (stop, mut stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        loop {
            let mut inbound = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(_) => continue,
                },
                _ = &mut stopped => return,
            };
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    Ok(Running {
        address,
        _stop: stop,
    })
}

/// Upload forms for `bucket` on the embedded S3 at `s3_url`, posted
/// path-style (the bucket in the path), signed with the local keys.
pub fn uploads(s3_url: &str, bucket: &str) -> ::api::Uploads {
    ::api::Uploads::new(&sdk_config(s3_url), format!("{s3_url}/{bucket}"))
        .expect("the local configuration has a region and keys")
}

/// Creates the bucket unless it exists.
pub async fn create_bucket(client: &aws_sdk_s3::Client, bucket: &str) -> Result<(), StackError> {
    match client.create_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error().is_some_and(|s| {
                s.is_bucket_already_owned_by_you() || s.is_bucket_already_exists()
            }) =>
        {
            Ok(())
        }
        Err(e) => Err(StackError::Start {
            what: "S3 bucket",
            detail: aws_sdk_s3::error::DisplayErrorContext(&e).to_string(),
        }),
    }
}

/// The folder the local stack keeps its data in (`LOCAL_DATA_DIR`, `.local`).
pub fn data_dir() -> PathBuf {
    std::env::var_os("LOCAL_DATA_DIR").map_or_else(|| PathBuf::from(".local"), PathBuf::from)
}
