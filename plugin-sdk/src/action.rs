//! Builders for the actions a plugin returns.

use serde::Serialize;

use crate::{Action, Error, HttpMethod, HttpRequest, Link};

impl Action {
    /// An HTTP request with no headers and no body; add them with [`Action::header`] and
    /// [`Action::body`].
    ///
    /// ```
    /// # use soda_gateway_plugin_sdk::{Action, HttpMethod};
    /// let action = Action::http(HttpMethod::Put, "https://example.com/status")
    ///     .header("authorization", "Bearer token")
    ///     .header("content-type", "text/plain")
    ///     .body("down");
    /// ```
    pub fn http(method: HttpMethod, url: impl Into<String>) -> Self {
        Action::Http(HttpRequest {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: None,
            continuation: None,
        })
    }

    /// A `POST` of `body` serialised as JSON, with `content-type: application/json`.
    pub fn post_json<T: Serialize + ?Sized>(
        url: impl Into<String>,
        body: &T,
    ) -> Result<Self, Error> {
        let bytes = serde_json::to_vec(body)?;
        Ok(Self::http(HttpMethod::Post, url)
            .header("content-type", "application/json")
            .body(bytes))
    }

    /// Adds a header to an HTTP action (no effect on other actions).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        if let Action::Http(request) = &mut self {
            request.headers.push((name.into(), value.into()));
        }
        self
    }

    /// Sets the body of an HTTP action (no effect on other actions).
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        if let Action::Http(request) = &mut self {
            request.body = Some(body.into());
        }
        self
    }

    /// Asks for the response to this HTTP action: once it is done, the gateway calls the
    /// plugin's [`Plugin::on_response`](crate::Plugin::on_response) with it and this
    /// `continuation` text (typically a small JSON saying which step comes next).
    pub fn continue_with(mut self, continuation: impl Into<String>) -> Self {
        if let Action::Http(request) = &mut self {
            request.continuation = Some(continuation.into());
        }
        self
    }

    /// Answers Soda's incident request with this link (`200 {"link": {"url", "text"}}`). Only the
    /// first such action of an event counts.
    pub fn incident_link(url: impl Into<String>, text: impl Into<String>) -> Self {
        Action::IncidentLink(Link {
            url: url.into(),
            text: text.into(),
        })
    }

    /// POSTs `{"url", "text"}` to the event's `incidentLinkCallbackUrl`, so Soda shows the link on
    /// the incident.
    pub fn incident_link_callback(url: impl Into<String>, text: impl Into<String>) -> Self {
        Action::IncidentLinkCallback(Link {
            url: url.into(),
            text: text.into(),
        })
    }
}
