//! Staying within the gateway's limits on one answer.
//!
//! The gateway refuses a whole answer with more actions than the plugin's
//! `plugin_limits.max_actions` (100 by default): nothing of it is sent. A plugin that turns each
//! item of an event into an action (an alert per failing check) folds the excess into one
//! summary instead, with [`fold_excess`], so that a large evaluation still alerts.

/// Actions one call may return under the gateway's default `plugin_limits.max_actions`.
pub const DEFAULT_MAX_ACTIONS: usize = 100;

/// At most `max` items: when there are more, the first `max - 1` stay as they are and the rest
/// are folded by `summarize` into one last item (a summary alert, for example). A `max` of 0 is
/// taken as 1.
pub fn fold_excess<T>(
    mut items: Vec<T>,
    max: usize,
    summarize: impl FnOnce(Vec<T>) -> T,
) -> Vec<T> {
    let max = max.max(1);
    if items.len() <= max {
        return items;
    }
    let excess = items.split_off(max - 1);
    items.push(summarize(excess));
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summed(items: Vec<u32>, max: usize) -> Vec<u32> {
        fold_excess(items, max, |rest| rest.iter().sum::<u32>() + 1000)
    }

    #[test]
    fn items_within_the_limit_stay_as_they_are() {
        assert_eq!(summed(vec![1, 2, 3], 3), vec![1, 2, 3]);
        assert_eq!(summed(vec![], 3), Vec::<u32>::new());
    }

    #[test]
    fn the_excess_is_folded_into_one_last_item() {
        assert_eq!(summed(vec![1, 2, 3, 4, 5], 3), vec![1, 2, 1000 + 3 + 4 + 5]);
        assert_eq!(summed(vec![1, 2], 0), vec![1003]);
    }
}
