//! Filters for the audit trail as operators type them, shared by the CLI, the admin API and the
//! console: times are RFC 3339 (`2026-11-22T10:00:00Z`) or an age (`15m`, `2h`, `7d`: that long
//! ago); empty values do not filter.

use serde::Deserialize;
use utoipa::IntoParams;

use crate::records::ActionStatus;
use crate::store::{now_ms, ActionFilter, EventFilter, EventStatus};

/// Listed when no limit is given.
pub const DEFAULT_LIMIT: i64 = 50;
/// The most any one listing returns.
pub const MAX_LIMIT: i64 = 1000;

/// An event listing's filters, as query parameters or options.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// A tenant id.
    pub tenant: Option<String>,
    /// A Soda event type, such as `checkEvaluation`.
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    /// `done`, `pending` or `failed`.
    pub status: Option<String>,
    /// Received at or after: an RFC 3339 time or an age (`2h`).
    pub since: Option<String>,
    /// Received before: an RFC 3339 time or an age (`2h`).
    pub until: Option<String>,
    /// At most this many, 1 to 1000 (50 when not given).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

impl EventQuery {
    /// The store filter, or a message saying which value is wrong.
    pub fn to_filter(&self) -> Result<EventFilter, String> {
        Ok(EventFilter {
            tenant: non_empty(&self.tenant),
            event_type: non_empty(&self.event_type),
            status: non_empty(&self.status)
                .map(|status| status.parse::<EventStatus>())
                .transpose()?,
            since_ms: instant("since", &self.since)?,
            until_ms: instant("until", &self.until)?,
            limit: limit(self.limit)?,
        })
    }
}

/// An action listing's filters, as query parameters or options.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ActionQuery {
    /// A tenant id.
    pub tenant: Option<String>,
    /// A plugin name.
    pub plugin: Option<String>,
    /// `pending`, `succeeded` or `failed`.
    pub status: Option<String>,
    /// The id of the event the actions belong to.
    pub event: Option<String>,
    /// At most this many, 1 to 1000 (50 when not given).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

impl ActionQuery {
    /// The store filter, or a message saying which value is wrong.
    pub fn to_filter(&self) -> Result<ActionFilter, String> {
        let status = non_empty(&self.status);
        if let Some(status) = &status {
            if !ActionStatus::ALL
                .iter()
                .any(|known| known.as_str() == status)
            {
                return Err(format!(
                    "unknown action status `{status}`: expected pending, succeeded or failed"
                ));
            }
        }
        Ok(ActionFilter {
            tenant: non_empty(&self.tenant),
            plugin: non_empty(&self.plugin),
            status,
            event_id: non_empty(&self.event),
            limit: limit(self.limit)?,
        })
    }
}

fn non_empty(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .map(str::to_owned)
}

fn limit(limit: Option<i64>) -> Result<i64, String> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(limit) if (1..=MAX_LIMIT).contains(&limit) => Ok(limit),
        Some(limit) => Err(format!("limit must be 1 to {MAX_LIMIT}, not {limit}")),
    }
}

fn instant(name: &str, value: &Option<String>) -> Result<Option<i64>, String> {
    non_empty(value)
        .map(|text| parse_instant(&text, now_ms()).map_err(|reason| format!("`{name}`: {reason}")))
        .transpose()
}

/// Unix ms of an RFC 3339 time, or of `now_ms` minus an age such as `2h`.
pub fn parse_instant(text: &str, now_ms: i64) -> Result<i64, String> {
    if let Ok(age) = humantime::parse_duration(text) {
        return Ok(now_ms - age.as_millis() as i64);
    }
    let time = humantime::parse_rfc3339_weak(text).map_err(|_| {
        format!("`{text}` is neither an RFC 3339 time (2026-11-22T10:00:00Z) nor an age (15m, 2h)")
    })?;
    Ok(time
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as i64))
}

/// A Unix ms time as RFC 3339, to the second, in UTC.
pub fn format_instant(ms: i64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_seconds(time).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_or_ages() {
        let now = 1_800_000_000_000;
        assert_eq!(parse_instant("2h", now), Ok(now - 7_200_000));
        assert_eq!(
            parse_instant("2026-11-22T10:00:00Z", now),
            Ok(1_795_341_600_000)
        );
        assert_eq!(format_instant(1_795_341_600_000), "2026-11-22T10:00:00Z");
        assert!(parse_instant("yesterday", now)
            .unwrap_err()
            .contains("neither an RFC 3339 time"));
    }

    #[test]
    fn filters_reject_bad_values_and_ignore_empty_ones() {
        let query = EventQuery {
            tenant: Some(" ".into()),
            status: Some("failed".into()),
            ..EventQuery::default()
        };
        let filter = query.to_filter().unwrap();
        assert_eq!(filter.tenant, None);
        assert_eq!(filter.status, Some(EventStatus::Failed));
        assert_eq!(filter.limit, DEFAULT_LIMIT);
        let bad = |query: EventQuery| query.to_filter().unwrap_err();
        assert!(bad(EventQuery {
            status: Some("lost".into()),
            ..EventQuery::default()
        })
        .contains("unknown event status `lost`"));
        assert!(bad(EventQuery {
            limit: Some(0),
            ..EventQuery::default()
        })
        .contains("limit must be 1 to 1000"));
        assert!(ActionQuery {
            status: Some("done".into()),
            ..ActionQuery::default()
        }
        .to_filter()
        .unwrap_err()
        .contains("unknown action status `done`"));
    }
}
