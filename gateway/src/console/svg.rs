//! A bar chart as inline SVG, drawn on the server: one bar per bucket, a y axis from zero to a
//! round number at or above the largest value, and labelled ticks under the x axis. Inline, so
//! the console's Content-Security-Policy needs nothing new; every text goes through maud and is
//! escaped.
//!
//! Geometry is in whole pixels with `crispEdges`, and the chart is shown at its own size, so a
//! bar's fill colour lands on the screen exactly (the browser tests look for it).

use maud::{html, Markup};

/// Space left of the plot for the y axis labels.
const LEFT: u32 = 64;
const RIGHT: u32 = 14;
const TOP: u32 = 10;
/// Space under the plot for the x axis labels.
const BOTTOM: u32 = 22;
/// The plot's height: a bar at the axis' top is this tall.
pub const PLOT_HEIGHT: u32 = 100;
/// The plot's width is about this; each bucket gets the same whole number of pixels.
const PLOT_WIDTH: u32 = 864;
const AXIS: &str = "#9aa5b1";
const GRID: &str = "#e4e9ef";
const LABEL: &str = "#52606d";

/// One bucket's bar.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub value: f64,
    /// Shown on hover (the bar's `<title>`), e.g. the bucket's time and the value with its unit.
    pub label: String,
}

/// What to draw.
pub struct BarChart<'a> {
    /// What the chart shows: its `<title>` and `aria-label`.
    pub title: &'a str,
    /// The bars' fill, a `#rrggbb` colour.
    pub colour: &'a str,
    /// One per bucket, oldest first.
    pub bars: &'a [Bar],
    /// Labels under the x axis, each at a bucket boundary (0 to `bars.len()`).
    pub ticks: &'a [(usize, String)],
    /// How a value on the y axis reads, with its unit (e.g. `0.5/min`).
    pub unit: fn(f64) -> String,
}

/// The chart as an `<svg>` element.
pub fn bar_chart(chart: &BarChart<'_>) -> Markup {
    let buckets = chart.bars.len().max(1) as u32;
    let slot = (PLOT_WIDTH / buckets).max(1);
    let bar_width = slot.saturating_sub(1).max(1);
    let width = LEFT + slot * buckets + RIGHT;
    let height = TOP + PLOT_HEIGHT + BOTTOM;
    let baseline = TOP + PLOT_HEIGHT;
    let largest = chart.bars.iter().map(|bar| bar.value).fold(0.0, f64::max);
    let top = axis_top(largest);
    let x_of = |boundary: usize| LEFT + slot * boundary as u32;
    html! {
        svg.chart xmlns="http://www.w3.org/2000/svg" role="img" aria-label=(chart.title)
            width=(width) height=(height) viewBox={ "0 0 " (width) " " (height) } {
            title { (chart.title) }
            g.grid shape-rendering="crispEdges" {
                line x1=(LEFT) y1=(TOP) x2=(width - RIGHT) y2=(TOP) stroke=(GRID) {}
                line x1=(LEFT) y1=(baseline) x2=(width - RIGHT) y2=(baseline) stroke=(AXIS) {}
            }
            g.bars fill=(chart.colour) shape-rendering="crispEdges" {
                @for (index, bar) in chart.bars.iter().enumerate() {
                    @let tall = bar_height(bar.value, top);
                    @if tall > 0 {
                        rect.bar x=(x_of(index)) y=(baseline - tall) width=(bar_width)
                            height=(tall) {
                            title { (bar.label) }
                        }
                    }
                }
            }
            g.labels fill=(LABEL) font-size="11" font-family="system-ui, sans-serif" {
                text x=(LEFT - 6) y=(TOP + 4) text-anchor="end" { ((chart.unit)(top)) }
                text x=(LEFT - 6) y=(baseline + 4) text-anchor="end" { "0" }
                @for (boundary, label) in chart.ticks {
                    @let anchor = match *boundary {
                        0 => "start",
                        b if b >= chart.bars.len() => "end",
                        _ => "middle",
                    };
                    text x=(x_of(*boundary)) y=(baseline + 16) text-anchor=(anchor) { (label) }
                }
            }
        }
    }
}

/// The y axis' top: the smallest 1, 2 or 5 times a power of ten at or above `largest` (1 when
/// nothing is above zero).
pub fn axis_top(largest: f64) -> f64 {
    if largest.is_nan() || largest <= 0.0 {
        return 1.0;
    }
    let power = 10f64.powi(largest.log10().floor() as i32);
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|step| step * power)
        .find(|candidate| *candidate >= largest * (1.0 - 1e-9))
        .unwrap_or(10.0 * power)
}

/// A bar's height in pixels: in proportion to the axis' top, at least one pixel when the value
/// is above zero, so that a small value is never lost.
pub fn bar_height(value: f64, top: f64) -> u32 {
    if value.is_nan() || value <= 0.0 {
        return 0;
    }
    let tall = (value / top * f64::from(PLOT_HEIGHT)).round() as u32;
    tall.clamp(1, PLOT_HEIGHT)
}

/// `value` short: whole above 10, otherwise with up to two significant decimals.
pub fn short_number(value: f64) -> String {
    let text = if value >= 10.0 {
        format!("{value:.0}")
    } else if value >= 1.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    };
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bars(values: &[f64]) -> Vec<Bar> {
        values
            .iter()
            .map(|value| Bar {
                value: *value,
                label: format!("value {value}"),
            })
            .collect()
    }

    fn chart(title: &str, bars: &[Bar]) -> String {
        let ticks = [(0, "24 h ago".to_owned()), (bars.len(), "now".to_owned())];
        bar_chart(&BarChart {
            title,
            colour: "#123456",
            bars,
            ticks: &ticks,
            unit: |value| format!("{}/min", short_number(value)),
        })
        .into_string()
    }

    /// The `height` of each bar, in order.
    fn heights(svg: &str) -> Vec<u32> {
        svg.split(r#"<rect class="bar""#)
            .skip(1)
            .map(|bar| {
                let from = bar.find(" height=\"").expect("a height") + 9;
                let rest = &bar[from..];
                rest[..rest.find('"').unwrap()].parse().unwrap()
            })
            .collect()
    }

    #[test]
    fn a_chart_draws_one_bar_per_bucket_above_zero_in_proportion_to_the_axis() {
        let svg = chart("acme: events per minute", &bars(&[0.0, 1.0, 4.0, 0.0, 2.0]));
        // The axis goes to 5: heights are value / 5 of the plot's height.
        assert_eq!(heights(&svg), [20, 80, 40]);
        assert!(svg.contains(">5/min</text>"), "{svg}");
        assert!(svg.contains(r##"<g class="bars" fill="#123456""##), "{svg}");
        assert!(svg.contains("<title>value 4</title>"), "{svg}");
    }

    #[test]
    fn bars_stand_on_the_baseline_side_by_side() {
        let svg = chart("t", &bars(&[1.0, 1.0]));
        // Two buckets share the plot: 432 px each, bars one pixel narrower.
        let first = r#"<rect class="bar" x="64" y="10" width="431" height="100">"#;
        let second = r#"<rect class="bar" x="496" y="10" width="431" height="100">"#;
        assert!(svg.contains(first) && svg.contains(second), "{svg}");
    }

    #[test]
    fn svg_elements_are_closed_so_the_html_parser_does_not_nest_them() {
        let svg = chart("t", &bars(&[1.0, 2.0]));
        assert_eq!(svg.matches("<rect").count(), svg.matches("</rect>").count());
        assert_eq!(svg.matches("<line").count(), svg.matches("</line>").count());
    }

    #[test]
    fn titles_and_labels_are_escaped() {
        let hostile = bars(&[1.0]);
        let svg = chart("<script>alert(1)</script> & co", &hostile);
        assert!(!svg.contains("<script>"), "{svg}");
        assert!(
            svg.contains("<title>&lt;script&gt;alert(1)&lt;/script&gt; &amp; co</title>"),
            "{svg}"
        );
        assert!(
            svg.contains(r#"aria-label="&lt;script&gt;alert(1)&lt;/script&gt; &amp; co""#),
            "{svg}"
        );
    }

    #[test]
    fn a_chart_of_zeros_draws_no_bars_and_an_axis_to_one() {
        let svg = chart("t", &bars(&[0.0; 144]));
        assert!(heights(&svg).is_empty());
        assert!(svg.contains(">1/min</text>"), "{svg}");
    }

    #[test]
    fn a_day_of_ten_minute_buckets_gets_six_pixels_each() {
        let mut values = vec![0.0; 144];
        values[143] = 3.0;
        let svg = chart("t", &bars(&values));
        let last = r#"<rect class="bar" x="922" y="50" width="5" height="60">"#;
        assert!(svg.contains(last), "{svg}");
        assert!(svg.contains(r#"width="942" height="132""#), "{svg}");
    }

    #[test]
    fn the_axis_ends_on_a_round_number() {
        assert_eq!(axis_top(0.0), 1.0);
        assert_eq!(axis_top(0.3), 0.5);
        assert_eq!(axis_top(0.2), 0.2);
        assert_eq!(axis_top(7.0), 10.0);
        assert_eq!(axis_top(150.0), 200.0);
        assert_eq!(axis_top(1000.0), 1000.0);
    }

    #[test]
    fn a_tiny_value_still_shows_and_a_bar_never_outgrows_the_plot() {
        assert_eq!(bar_height(0.001, 100.0), 1);
        assert_eq!(bar_height(0.0, 100.0), 0);
        assert_eq!(bar_height(50.0, 100.0), 50);
        assert_eq!(bar_height(500.0, 100.0), PLOT_HEIGHT);
    }

    #[test]
    fn numbers_read_short() {
        assert_eq!(short_number(0.3), "0.3");
        assert_eq!(short_number(0.25), "0.25");
        assert_eq!(short_number(2.0), "2");
        assert_eq!(short_number(2.5), "2.5");
        assert_eq!(short_number(150.4), "150");
    }
}
