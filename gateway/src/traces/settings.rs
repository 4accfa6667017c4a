//! The `[traces]` section: where the gateway sends its OpenTelemetry traces.

use std::time::Duration;

use anyhow::bail;
use serde::{Deserialize, Serialize};

/// OpenTelemetry traces, exported over OTLP/HTTP (protobuf). Off unless the section is present.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TraceSettings {
    /// The collector's OTLP/HTTP traces URL, such as `http://127.0.0.1:4318/v1/traces`.
    /// Headers it needs (an API key) come from `OTEL_EXPORTER_OTLP_TRACES_HEADERS`.
    pub endpoint: String,
    /// The spans' `service.name`.
    #[serde(default = "default_service_name")]
    pub service_name: String,
    /// How long finished spans wait to be sent with others (at most 512 go in one request).
    #[serde(default = "default_export_interval", with = "humantime_serde")]
    pub export_interval: Duration,
    /// How long one export request may take; spans it could not send are dropped, never the
    /// events they describe.
    #[serde(default = "default_export_timeout", with = "humantime_serde")]
    pub export_timeout: Duration,
}

fn default_service_name() -> String {
    "soda-gateway".into()
}

fn default_export_interval() -> Duration {
    Duration::from_secs(5)
}

fn default_export_timeout() -> Duration {
    Duration::from_secs(10)
}

impl TraceSettings {
    /// Checks the endpoint and the times; errors name the setting.
    pub fn validate(&self) -> anyhow::Result<()> {
        let endpoint = match url::Url::parse(&self.endpoint) {
            Ok(endpoint) => endpoint,
            Err(error) => bail!(
                "`traces.endpoint` must be an http(s) URL such as \
                 `http://127.0.0.1:4318/v1/traces`: {error}"
            ),
        };
        if !matches!(endpoint.scheme(), "http" | "https") || endpoint.host_str().is_none() {
            bail!(
                "`traces.endpoint` must be an http(s) URL with a host, such as \
                 `http://127.0.0.1:4318/v1/traces`"
            );
        }
        if !endpoint.username().is_empty() || endpoint.password().is_some() {
            bail!(
                "`traces.endpoint` must not hold credentials: give the collector's headers in \
                 OTEL_EXPORTER_OTLP_TRACES_HEADERS"
            );
        }
        if self.service_name.trim().is_empty() {
            bail!("`traces.service_name` must not be empty");
        }
        if self.export_interval.is_zero() || self.export_timeout.is_zero() {
            bail!("`traces.export_interval` and `traces.export_timeout` must be above zero");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(endpoint: &str) -> TraceSettings {
        TraceSettings {
            endpoint: endpoint.into(),
            service_name: default_service_name(),
            export_interval: default_export_interval(),
            export_timeout: default_export_timeout(),
        }
    }

    #[test]
    fn an_http_collector_url_is_accepted() {
        settings("http://127.0.0.1:4318/v1/traces")
            .validate()
            .unwrap();
        settings("https://otlp.example.com/v1/traces")
            .validate()
            .unwrap();
    }

    #[test]
    fn other_endpoints_are_refused_with_the_setting_named() {
        for endpoint in [
            "127.0.0.1:4318",
            "grpc://collector:4317",
            "not a url",
            "https://user:pass@otlp.example.com/v1/traces",
        ] {
            let error = settings(endpoint).validate().unwrap_err().to_string();
            assert!(error.contains("traces.endpoint"), "{endpoint}: {error}");
            assert!(!error.contains("pass@"), "the URL is not echoed: {error}");
        }
    }

    #[test]
    fn zero_intervals_are_refused() {
        let mut zero = settings("http://127.0.0.1:4318/v1/traces");
        zero.export_interval = Duration::ZERO;
        assert!(zero
            .validate()
            .unwrap_err()
            .to_string()
            .contains("export_interval"));
    }
}
