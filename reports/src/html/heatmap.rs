//! Heat maps, per node and time bucket: messages sent, received and dropped or mutated
//! (from the proxy trace), and memory and CPU use (from the samples), as in the memory
//! heat maps of seed 000: a node behaving unlike its peers stands out as a different row.

use super::escape::html;
use super::faults::FaultInterval;
use super::format::{bytes, duration, seconds};
use super::records::{LinkCount, MetricLine, TraceLine};
use super::svg::{Axis, PLOT_WIDTH};
use std::collections::BTreeMap;
use std::fmt::Write;
use traitor_model::NodeId;

/// Time buckets per heat map row.
pub const BUCKETS: usize = 60;
const ROW: f64 = 18.0;
const TOP: f64 = 6.0;

/// One cell of a heat map.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Cell {
    /// Nothing known for this bucket (before the first sample).
    Empty,
    /// The node was not running.
    Down,
    Value(f64),
}

/// Rows of cells over the run's time buckets.
struct Grid {
    id: &'static str,
    title: &'static str,
    rows: BTreeMap<NodeId, Vec<Cell>>,
    /// How a value is written in titles and the legend.
    unit: fn(f64) -> String,
    /// Whether the colour scale starts at the smallest value seen instead of zero (for
    /// gauges such as memory, where the differences between nodes are what matters).
    from_min: bool,
}

impl Grid {
    fn new(id: &'static str, title: &'static str, unit: fn(f64) -> String, from_min: bool) -> Self {
        Self {
            id,
            title,
            rows: BTreeMap::new(),
            unit,
            from_min,
        }
    }

    fn row(&mut self, node: NodeId, fill: Cell) -> &mut Vec<Cell> {
        self.rows.entry(node).or_insert_with(|| vec![fill; BUCKETS])
    }

    fn add(&mut self, node: NodeId, bucket: usize, amount: f64) {
        if let Cell::Value(v) = &mut self.row(node, Cell::Value(0.0))[bucket] {
            *v += amount;
        }
    }

    fn render(&self, axis: &Axis, faults: &[FaultInterval]) -> String {
        let values = self.rows.values().flatten().filter_map(|c| match c {
            Cell::Value(v) => Some(*v),
            _ => None,
        });
        let (low, high) = values.fold((f64::INFINITY, 0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
        let low = if self.from_min && low.is_finite() {
            low
        } else {
            0.0
        };
        let high = high.max(low + f64::EPSILON);
        let bottom = TOP + ROW * self.rows.len() as f64;
        let width = axis.width / BUCKETS as f64;
        let mut out = format!(
            "<h3>{}</h3><svg id=\"{}\" class=\"heat\" viewBox=\"0 0 {PLOT_WIDTH} {:.0}\" width=\"100%\" role=\"img\" aria-label=\"{}\">",
            self.title,
            self.id,
            bottom + 24.0,
            self.title
        );
        for (r, (node, cells)) in self.rows.iter().enumerate() {
            let y = TOP + r as f64 * ROW;
            let _ = write!(
                out,
                "<text class=\"lane-label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">node {node}</text>",
                axis.left - 6.0,
                y + ROW / 2.0 + 4.0
            );
            for (b, cell) in cells.iter().enumerate() {
                let x = axis.left + b as f64 * width;
                let t0 = axis.start
                    + ((axis.end - axis.start) as f64 * b as f64 / BUCKETS as f64) as u64;
                let (fill, what) = match cell {
                    Cell::Empty => continue,
                    Cell::Down => ("class=\"down\"".to_string(), "not running".to_string()),
                    Cell::Value(v) => (
                        format!("fill=\"{}\"", colour((v - low) / (high - low))),
                        (self.unit)(*v),
                    ),
                };
                let _ = write!(
                    out,
                    "<rect {fill} x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.2}\" height=\"{:.1}\"><title>node {node} from {}: {}</title></rect>",
                    width + 0.3,
                    ROW - 1.0,
                    seconds(t0),
                    html(&what)
                );
            }
        }
        out.push_str(&axis.fault_bands(faults, TOP, bottom, false));
        out.push_str(&axis.ticks(bottom, bottom));
        out.push_str("</svg>");
        let _ = write!(
            out,
            "<p class=\"legend\">per {} bucket, from <span class=\"swatch\" style=\"background:{}\"></span>{} to <span class=\"swatch\" style=\"background:{}\"></span>{}; <span class=\"swatch down\"></span>not running; dashed outlines: faults</p>",
            duration((axis.end - axis.start) / BUCKETS as u64),
            colour(0.0),
            html(&(self.unit)(low)),
            colour(1.0),
            html(&(self.unit)(high))
        );
        out
    }
}

/// A sequential palette from pale yellow (0) to dark red (1).
fn colour(fraction: f64) -> String {
    const STOPS: [(f64, f64, f64); 5] = [
        (255.0, 255.0, 204.0),
        (254.0, 217.0, 118.0),
        (253.0, 141.0, 60.0),
        (227.0, 26.0, 28.0),
        (128.0, 0.0, 38.0),
    ];
    let f = if fraction.is_finite() {
        fraction.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let pos = f * (STOPS.len() - 1) as f64;
    let i = (pos.floor() as usize).min(STOPS.len() - 2);
    let t = pos - i as f64;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    let mix = |x: f64, y: f64| (x + (y - x) * t).round() as u8;
    format!(
        "#{:02x}{:02x}{:02x}",
        mix(a.0, b.0),
        mix(a.1, b.1),
        mix(a.2, b.2)
    )
}

fn bucket_of(axis: &Axis, t: u64) -> usize {
    let span = (axis.end - axis.start) as f64;
    (((t.clamp(axis.start, axis.end) - axis.start) as f64 / span * BUCKETS as f64) as usize)
        .min(BUCKETS - 1)
}

fn count(n: f64) -> String {
    format!("{n:.0} messages")
}

fn cores(n: f64) -> String {
    format!("{:.0}% of a core", n * 100.0)
}

/// The three message grids, from the proxy trace; `None` when no message was traced.
fn message_grids(trace: &[TraceLine], axis: &Axis) -> Option<[Grid; 3]> {
    let mut sent = Grid::new("heat-sent", "Messages sent", count, false);
    let mut received = Grid::new("heat-received", "Messages received", count, false);
    let mut altered = Grid::new(
        "heat-altered",
        "Messages dropped, held, delayed, duplicated or reordered (by sender)",
        count,
        false,
    );
    for line in trace {
        let (Some(from), Some(to)) = (line.from, line.to) else {
            continue;
        };
        for node in [from, to] {
            sent.row(node, Cell::Value(0.0));
            received.row(node, Cell::Value(0.0));
            altered.row(node, Cell::Value(0.0));
        }
        let b = bucket_of(axis, line.time);
        sent.add(from, b, 1.0);
        if line.reached() {
            received.add(to, b, 1.0);
        }
        if !line.delivered_as_is() {
            altered.add(from, b, 1.0);
        }
    }
    (!sent.rows.is_empty()).then_some([sent, received, altered])
}

/// Memory and CPU grids from the node samples: each bucket shows the mean of its samples,
/// or carries the last sample forward (samples are sparser than buckets).
fn resource_grids(metrics: &[MetricLine], axis: &Axis) -> Option<[Grid; 2]> {
    let mut memory = Grid::new("heat-memory", "Memory (resident)", bytes, true);
    let mut cpu = Grid::new("heat-cpu", "CPU", cores, false);
    let mut samples: BTreeMap<NodeId, Vec<(u64, bool, u64, u64)>> = BTreeMap::new();
    for line in metrics.iter().filter(|l| l.kind == "node") {
        if let (Some(time), Some(s)) = (line.time, &line.sample) {
            samples
                .entry(s.node)
                .or_default()
                .push((time, s.running, s.memory_bytes, s.cpu_ns));
        }
    }
    if samples.is_empty() {
        return None;
    }
    for (node, list) in samples.iter_mut() {
        list.sort_by_key(|s| s.0);
        let mut mem_cells: Vec<Vec<f64>> = vec![Vec::new(); BUCKETS];
        let mut cpu_cells: Vec<Vec<f64>> = vec![Vec::new(); BUCKETS];
        let mut down = [false; BUCKETS];
        for (i, &(time, running, mem, cpu_ns)) in list.iter().enumerate() {
            let b = bucket_of(axis, time);
            if !running {
                down[b] = true;
                continue;
            }
            mem_cells[b].push(mem as f64);
            if let Some(&(t0, true, _, c0)) = i.checked_sub(1).map(|p| &list[p]) {
                if cpu_ns >= c0 && time > t0 {
                    cpu_cells[b].push((cpu_ns - c0) as f64 / (time - t0) as f64);
                }
            }
        }
        fill_row(memory.row(*node, Cell::Empty), &mem_cells, &down);
        fill_row(cpu.row(*node, Cell::Empty), &cpu_cells, &down);
    }
    Some([memory, cpu])
}

/// Each bucket: the mean of its values, else down if the node was seen down in it, else
/// the previous bucket's cell carried forward.
fn fill_row(row: &mut [Cell], values: &[Vec<f64>], down: &[bool]) {
    let mut last = Cell::Empty;
    for (b, cell) in row.iter_mut().enumerate() {
        if !values[b].is_empty() {
            last = Cell::Value(values[b].iter().sum::<f64>() / values[b].len() as f64);
        } else if down[b] {
            last = Cell::Down;
        }
        *cell = last;
    }
}

/// The heat map section: message grids, resource grids, per-link totals.
pub fn section(
    trace: Option<&[TraceLine]>,
    metrics: Option<&[MetricLine]>,
    axis: &Axis,
    faults: &[FaultInterval],
) -> String {
    let mut out = String::from("<section id=\"heatmaps\"><h2>Heat maps</h2>");
    match trace {
        None => {
            out.push_str("<p class=\"missing\">trace.jsonl is missing: no message heat map.</p>")
        }
        Some(trace) => {
            if let Some(cut) = trace.iter().find(|l| l.truncated) {
                let _ = write!(
                    out,
                    "<p class=\"warning\">The proxy trace reached its bound at {}: later messages are not in it (the per-link totals below still count them).</p>",
                    seconds(cut.time)
                );
            }
            match message_grids(trace, axis) {
                Some(grids) => grids
                    .iter()
                    .for_each(|g| out.push_str(&g.render(axis, faults))),
                None => out.push_str("<p>No node-to-node message was traced.</p>"),
            }
        }
    }
    match metrics {
        None => out.push_str(
            "<p class=\"missing\">metrics.jsonl is missing: no memory or CPU heat map.</p>",
        ),
        Some(metrics) => {
            match resource_grids(metrics, axis) {
                Some(grids) => grids
                    .iter()
                    .for_each(|g| out.push_str(&g.render(axis, faults))),
                None => out.push_str("<p>No node sample was recorded.</p>"),
            }
            let errors = metrics.iter().filter(|l| l.kind == "sample-error").count();
            if errors > 0 {
                let first = metrics
                    .iter()
                    .find_map(|l| l.error.as_deref())
                    .unwrap_or_default();
                let _ = write!(
                    out,
                    "<p class=\"warning\">{errors} sample(s) failed; the first: <code>{}</code></p>",
                    html(first)
                );
            }
            let links: Vec<&LinkCount> = metrics
                .iter()
                .filter_map(|l| l.link.as_ref())
                .filter(|l| l.messages > 0)
                .collect();
            out.push_str(&link_table(&links));
        }
    }
    out.push_str("</section>");
    out
}

fn link_table(links: &[&LinkCount]) -> String {
    if links.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "<h3>Per-link totals</h3><table class=\"data\"><thead><tr><th>from</th><th>to</th><th>messages</th><th>bytes</th>\
         <th>dropped</th><th>duplicated</th><th>delayed</th><th>held</th></tr></thead><tbody>",
    );
    for l in links {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            l.from, l.to, l.messages, bytes(l.bytes as f64), l.dropped, l.duplicated, l.delayed, l.held
        );
    }
    out.push_str("</tbody></table>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn palette_runs_from_pale_to_dark() {
        assert_eq!(colour(0.0), "#ffffcc");
        assert_eq!(colour(1.0), "#800026");
        assert_eq!(colour(f64::NAN), "#ffffcc");
    }

    #[test]
    fn rows_carry_the_last_sample_and_show_downtime() {
        let mut row = vec![Cell::Empty; 5];
        let values = vec![vec![], vec![2.0, 4.0], vec![], vec![], vec![5.0]];
        let down = [false, false, false, true, false];
        fill_row(&mut row, &values, &down);
        assert_eq!(
            row,
            vec![
                Cell::Empty,
                Cell::Value(3.0),
                Cell::Value(3.0),
                Cell::Down,
                Cell::Value(5.0)
            ]
        );
    }
}
