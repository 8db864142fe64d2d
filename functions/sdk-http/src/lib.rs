//! The AWS SDK's HTTP client over reqwest, the client the portal already
//! uses: one HTTP stack (reqwest, hyper, rustls with *ring*) in every
//! bootstrap instead of two. The SDK's own client also links HTTP/2 (h2),
//! which nothing here speaks: about 0.7 MB of each binary.
//!
//! The SDK keeps its retries, timeouts and stalled-stream protection; this
//! only sends a request and hands back the response, and tells the SDK
//! which failures are timeouts and which are broken connections, so its
//! retry rules see them as they would from its own client.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;

/// The SDK's [`HttpClient`]: one reqwest client per set of connector
/// timeouts the SDK asks for (in practice one), trusting the platform's
/// roots (`SSL_CERT_FILE` included), as the portal client does.
#[derive(Debug, Default)]
pub struct ReqwestClient {
    clients: Mutex<HashMap<Timeouts, reqwest::Client>>,
}

/// The connect and read timeouts a connector was asked for.
type Timeouts = (Option<Duration>, Option<Duration>);

/// The client for an `SdkConfig`.
pub fn client() -> SharedHttpClient {
    // reqwest is built without a crypto provider of its own.
    let _ = rustls::crypto::ring::default_provider().install_default();
    SharedHttpClient::new(ReqwestClient::default())
}

impl HttpClient for ReqwestClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let key: Timeouts = (settings.connect_timeout(), settings.read_timeout());
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        let client = clients
            .entry(key)
            .or_insert_with(|| {
                // No proxy from the environment: the SDK's own client takes
                // none either.
                let mut builder = reqwest::Client::builder().no_proxy();
                if let Some(timeout) = key.0 {
                    builder = builder.connect_timeout(timeout);
                }
                if let Some(timeout) = key.1 {
                    builder = builder.read_timeout(timeout);
                }
                // Only fails without a TLS provider, which `client` installs.
                builder.build().unwrap_or_default()
            })
            .clone();
        SharedHttpConnector::new(Connector(Arc::new(client)))
    }
}

#[derive(Debug)]
struct Connector(Arc<reqwest::Client>);

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = self.0.clone();
        HttpConnectorFuture::new(async move {
            let request = request
                .try_into_http1x()
                .map_err(|e| ConnectorError::user(e.into()))?;
            let (parts, body) = request.into_parts();
            // A body in memory goes as bytes, with its length; a stream as
            // a stream.
            let body = match body.bytes() {
                Some(bytes) => reqwest::Body::from(bytes.to_vec()),
                None => reqwest::Body::wrap(body),
            };
            let request = reqwest::Request::try_from(http::Request::from_parts(parts, body))
                .map_err(|e| ConnectorError::user(e.into()))?;
            let response = client.execute(request).await.map_err(connector_error)?;
            let (parts, body) = http::Response::from(response).into_parts();
            HttpResponse::try_from(http::Response::from_parts(
                parts,
                SdkBody::from_body_1_x(body),
            ))
            .map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}

/// As the SDK's own client classifies: timeouts, then broken or refused
/// connections (both retried), then the rest.
fn connector_error(error: reqwest::Error) -> ConnectorError {
    if error.is_timeout() {
        ConnectorError::timeout(error.into())
    } else if error.is_connect() || error.is_request() || error.is_body() {
        ConnectorError::io(error.into())
    } else {
        ConnectorError::other(error.into(), None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_refused_connection_is_io_and_a_silent_server_a_timeout() {
        let _ = client(); // installs the crypto provider reqwest needs
        // A port nobody listens on (bound, then released).
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", closed.local_addr().unwrap());
        drop(closed);
        let refused = reqwest::get(&url).await.unwrap_err();
        let error = connector_error(refused);
        assert!(error.is_io(), "{error:?}");

        // A server that accepts and never answers.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", silent.local_addr().unwrap());
        let client = reqwest::Client::builder()
            .no_proxy()
            .read_timeout(Duration::from_millis(100))
            .build()
            .unwrap();
        let timed_out = client.get(&url).send().await.unwrap_err();
        let error = connector_error(timed_out);
        assert!(error.is_timeout(), "{error:?}");
        drop(silent);
    }
}
