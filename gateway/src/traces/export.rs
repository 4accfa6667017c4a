//! The OTLP exporter's HTTP client: the gateway's own reqwest, on the gateway's runtime.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use opentelemetry_http::{HttpClient, HttpError, Request, Response};
use tokio::runtime::Handle;

/// The most of a collector's answer that is read (an OTLP answer is a few bytes, or a short
/// partial-success message).
const ANSWER_LIMIT: usize = 64 * 1024;

/// Posts the exporter's requests. The SDK's batch processor exports from a thread of its own and
/// blocks on the export there, outside any runtime; so the request is spawned onto the gateway's
/// runtime and only its outcome is awaited.
#[derive(Debug)]
pub(super) struct RuntimeClient {
    client: reqwest::Client,
    runtime: Handle,
}

impl RuntimeClient {
    /// A client that gives up on a request after `timeout` and follows no redirect.
    pub(super) fn new(runtime: Handle, timeout: Duration) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self { client, runtime })
    }
}

#[async_trait]
impl HttpClient for RuntimeClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let request = reqwest::Request::try_from(request)?;
        let client = self.client.clone();
        let sent = self.runtime.spawn(async move {
            let mut answer = client.execute(request).await?;
            let mut response = Response::builder().status(answer.status());
            for (name, value) in answer.headers() {
                response = response.header(name, value);
            }
            let mut body = Vec::new();
            while let Some(chunk) = answer.chunk().await? {
                let room = ANSWER_LIMIT - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if body.len() == ANSWER_LIMIT {
                    break;
                }
            }
            Ok::<_, HttpError>(response.body(Bytes::from(body))?)
        });
        sent.await?
    }
}
