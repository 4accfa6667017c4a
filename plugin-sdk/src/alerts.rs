//! Planning the alerts of a check evaluation for alerting integrations (PagerDuty, Opsgenie,
//! ...), within a limit on how many requests one evaluation sends.
//!
//! One alert per failing (optionally warning) check, keyed so that the same check's alert is
//! found again; one close per passing check whose alert is open (remembered in the plugin's
//! state under its key), at most half of the limit; alerts past the room left summed up in one
//! (see [`crate::limits::fold_excess`]).

use crate::limits::fold_excess;
use crate::{state, CheckResult, Outcome};

/// Which checks alert, and how many requests an evaluation may send.
pub struct AlertPolicy {
    /// Requests one evaluation may send (alerts and closes together).
    pub max_alerts: usize,
    /// Alert on `warn` outcomes too.
    pub alert_on_warn: bool,
    /// Close a check's open alert when it passes.
    pub close_on_pass: bool,
}

/// An alert to open: one check's, with its key, or one summing up those past the limit.
pub enum CheckAlert<'a> {
    /// One check's alert, under its key.
    One(&'a CheckResult, String),
    /// One alert for the checks past the limit.
    Summary(Vec<&'a CheckResult>),
}

/// What an evaluation calls for.
pub struct CheckAlerts<'a> {
    /// Keys of open alerts whose checks passed (taken from the state: they are closed now),
    /// with their checks.
    pub closes: Vec<(&'a CheckResult, String)>,
    /// Alerts to open. The caller remembers each `One`'s key in its state (so that a later
    /// pass closes it); a summary is not closed automatically.
    pub opens: Vec<CheckAlert<'a>>,
}

/// Plans the alerts of `results` under `policy`; `key` names a check's alert.
pub fn plan_check_alerts<'a>(
    results: &'a [CheckResult],
    policy: &AlertPolicy,
    key: impl Fn(&CheckResult) -> String,
) -> CheckAlerts<'a> {
    let mut closes = Vec::new();
    let mut opens = Vec::new();
    for result in results {
        let key = key(result);
        match result.outcome {
            Outcome::Fail => opens.push(CheckAlert::One(result, key)),
            Outcome::Warn if policy.alert_on_warn => opens.push(CheckAlert::One(result, key)),
            Outcome::Pass
                if policy.close_on_pass
                    && closes.len() < policy.max_alerts / 2
                    && state::take(&key).is_some() =>
            {
                closes.push((result, key));
            }
            _ => {}
        }
    }
    let room = policy.max_alerts - closes.len();
    let opens = fold_excess(opens, room, |excess| {
        CheckAlert::Summary(excess.into_iter().flat_map(CheckAlert::results).collect())
    });
    CheckAlerts { closes, opens }
}

impl<'a> CheckAlert<'a> {
    /// The checks this alert stands for.
    pub fn results(self) -> Vec<&'a CheckResult> {
        match self {
            CheckAlert::One(result, _) => vec![result],
            CheckAlert::Summary(results) => results,
        }
    }
}
