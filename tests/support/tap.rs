//! A TCP tap: which requests reached a server.

use super::*;

/// A TCP forwarder to an HTTP server on 127.0.0.1 that keeps what the
/// clients sent, to see which requests reached it (HTTP/1.1, plain text).
pub struct Tap {
    pub url: String,
    sent: Arc<std::sync::Mutex<Vec<u8>>>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Tap {
    pub async fn to(url: &str) -> Tap {
        let target = url.trim_start_matches("http://").to_string();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("tap port");
        let url = format!("http://{}", listener.local_addr().expect("tap address"));
        let sent = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let log = sent.clone();
        tokio::spawn(async move {
            loop {
                let inbound = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => stream,
                        Err(_) => continue,
                    },
                    _ = &mut stopped => return,
                };
                let (log, target) = (log.clone(), target.clone());
                tokio::spawn(async move {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let Ok(outbound) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    let (mut from_client, mut to_client) = inbound.into_split();
                    let (mut from_server, mut to_server) = outbound.into_split();
                    let upstream = async move {
                        let mut buf = vec![0u8; 64 * 1024];
                        while let Ok(n) = from_client.read(&mut buf).await {
                            if n == 0 || to_server.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                            log.lock().expect("tap log").extend_from_slice(&buf[..n]);
                        }
                        let _ = to_server.shutdown().await;
                    };
                    let downstream = tokio::io::copy(&mut from_server, &mut to_client);
                    let _ = tokio::join!(upstream, downstream);
                });
            }
        });
        Tap {
            url,
            sent,
            _stop: stop,
        }
    }

    /// The GET requests for paths starting with `path`, in order, with the
    /// first byte each asked for (0 without a `Range`).
    pub fn gets_from(&self, path: &str) -> Vec<u64> {
        let sent = self.sent.lock().expect("tap log");
        let text = String::from_utf8_lossy(&sent);
        let start = format!("GET {path}");
        text.match_indices(&start)
            .map(|(at, _)| {
                let head = &text[at..];
                let head = &head[..head.find("\r\n\r\n").unwrap_or(head.len())];
                head.lines()
                    .find_map(|line| {
                        let (name, value) = line.split_once(':')?;
                        name.eq_ignore_ascii_case("range").then_some(value)?;
                        value
                            .trim()
                            .strip_prefix("bytes=")?
                            .split('-')
                            .next()?
                            .parse()
                            .ok()
                    })
                    .unwrap_or(0)
            })
            .collect()
    }
}
