//! The timeline, as in Jepsen's timeline.html: a lane per client process, each op a bar
//! from invoke to completion coloured by outcome (unknown ops run to the end), nemesis
//! fault intervals shaded across every lane, adversary actions in lanes of their own above.
//! Up to [`AGGREGATE_ABOVE`] ops each op is its own element; beyond that ops are binned per
//! process and time bucket, so a 10,000-op run stays a page a browser draws at once.

use super::actions::Lanes;
use super::escape::html;
use super::faults::FaultInterval;
use super::format::{duration, seconds};
use super::ops::{Op, Outcome};
use super::svg::Axis;
use super::tally::{CellShape, Tally};
use std::collections::{BTreeMap, HashSet};
use std::fmt::Write;

/// Ops drawn one element each at most; more are binned.
pub const AGGREGATE_ABOVE: usize = 2000;
/// Time buckets per lane when binned.
const BINS: usize = 240;
/// Room above the lanes for fault labels, and below for the time axis.
const TOP: f64 = 28.0;
const BOTTOM: f64 = 22.0;

/// Ops to draw emphasised: a linearizability violation's window and its blocked op (by
/// history index). In close-ups, `dim_except` names the other ops that tell the story;
/// everything else is dimmed.
#[derive(Clone, Debug, Default)]
pub struct Highlight {
    pub window: HashSet<u64>,
    pub blocked: HashSet<u64>,
    pub dim_except: Option<HashSet<u64>>,
}

impl Highlight {
    fn class(&self, op: &Op) -> &'static str {
        if self.blocked.contains(&op.index) {
            " blocked"
        } else if self.window.contains(&op.index) {
            " window"
        } else if self
            .dim_except
            .as_ref()
            .is_some_and(|keep| !keep.contains(&op.index))
        {
            " dim"
        } else {
            ""
        }
    }

    fn marks(&self, op: &Op) -> bool {
        self.blocked.contains(&op.index) || self.window.contains(&op.index)
    }
}

/// Draws `ops` (each with its position in the page's op data, which clicks refer to) as
/// lanes over `axis`, under the lanes of the `adversary`. `id` names the SVG element.
pub fn lanes(
    id: &str,
    ops: &[(usize, &Op)],
    axis: &Axis,
    faults: &[FaultInterval],
    adversary: &Lanes,
    highlight: &Highlight,
) -> String {
    let processes: Vec<u64> = ops
        .iter()
        .map(|(_, op)| op.process())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let lane_of: BTreeMap<u64, usize> =
        processes.iter().enumerate().map(|(i, p)| (*p, i)).collect();
    let lane_height = if processes.len() <= 8 {
        22.0
    } else if processes.len() <= 40 {
        16.0
    } else {
        (640.0 / processes.len() as f64).max(3.0)
    };
    let bottom = TOP + lane_height * processes.len().max(1) as f64;
    let height = bottom + BOTTOM;
    let aggregated = ops.len() > AGGREGATE_ABOVE;
    let mut out = String::new();
    let label_every = (9.0 / lane_height).ceil().max(1.0) as usize;
    for (i, process) in processes.iter().enumerate() {
        let y = TOP + i as f64 * lane_height;
        let _ = write!(
            out,
            "<rect class=\"lane{}\" x=\"{:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{lane_height:.1}\"/>",
            if i % 2 == 0 { " even" } else { "" },
            axis.left,
            axis.width
        );
        if i % label_every == 0 {
            let _ = write!(
                out,
                "<text class=\"lane-label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">p{}</text>",
                axis.left - 6.0,
                y + lane_height / 2.0 + 4.0,
                html(&process.to_string())
            );
        }
    }
    out.push_str(&axis.ticks(TOP, bottom));
    out.push_str(&axis.fault_bands(faults, 0.0, bottom, true));
    let bar = |out: &mut String, position: usize, op: &Op, class: &str| {
        let top = TOP + lane_of[&op.process()] as f64 * lane_height;
        let x0 = axis.x(op.start);
        let latency = op
            .latency()
            .map(duration)
            .unwrap_or_else(|| "no completion".into());
        let _ = write!(
            out,
            "<rect class=\"op {}{class}\" data-op=\"{position}\" x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\"><title>{} ({latency}, from {})</title></rect>",
            op.outcome.class(),
            top + lane_height * 0.15,
            (axis.x(bar_end(op, axis)) - x0).max(1.5),
            lane_height * 0.7,
            html(&op.describe()),
            seconds(op.start),
        );
        let width = axis.x(bar_end(op, axis)) - x0;
        if width >= LABELLED_BAR {
            // Wide bars (close-ups, long ops) say what they are, cut to fit.
            let text: String = bar_text(op).chars().take((width / 6.5) as usize).collect();
            let _ = write!(
                out,
                "<text class=\"bar-label\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                x0 + 3.0,
                top + lane_height * 0.5 + 4.0,
                html(&text)
            );
        }
        if op.outcome == Outcome::Info {
            out.push_str(&tail(position, op, axis, top, lane_height));
        }
    };
    if aggregated {
        out.push_str(&bins(ops, axis, &processes, &lane_of, lane_height));
        for (position, op) in ops.iter().filter(|(_, op)| highlight.marks(op)) {
            bar(&mut out, *position, op, highlight.class(op));
        }
    } else {
        for (position, op) in ops {
            bar(&mut out, *position, op, highlight.class(op));
        }
    }
    adversary.svg(
        &format!(
            "id=\"{id}\" class=\"timeline{}\" role=\"img\" aria-label=\"client operations over time\"",
            if aggregated { " aggregated" } else { "" },
        ),
        axis,
        height,
        &out,
    )
}

/// Ops binned per lane and time bucket: one element per non-empty bin, shaded by how many
/// ops were active in it; a click lists the bin's ops.
fn bins(
    ops: &[(usize, &Op)],
    axis: &Axis,
    processes: &[u64],
    lane_of: &BTreeMap<u64, usize>,
    lane_height: f64,
) -> String {
    let span = (axis.end - axis.start) as f64;
    let bucket_of = |t: u64| {
        (((t.clamp(axis.start, axis.end) - axis.start) as f64 / span * BINS as f64) as usize)
            .min(BINS - 1)
    };
    let mut grid = vec![Tally::default(); processes.len() * BINS];
    for (_, op) in ops {
        let lane = lane_of[&op.process()];
        for bucket in bucket_of(op.start)..=bucket_of(bar_end(op, axis)) {
            grid[lane * BINS + bucket].add(op.outcome);
        }
    }
    let busiest = grid.iter().map(Tally::total).max().unwrap_or(1).max(1) as f64;
    let width = axis.width / BINS as f64;
    let time_of = |bucket: usize| axis.start + (span * bucket as f64 / BINS as f64) as u64;
    let mut out = String::from("<g class=\"bins\">");
    for (lane, row) in grid.chunks(BINS).enumerate() {
        // Runs of equal bins are one element: a process busy with one long op is one bar
        // rather than a bar per bucket.
        let mut first = 0;
        while first < BINS {
            let tally = row[first];
            let mut last = first;
            while last + 1 < BINS && row[last + 1] == tally {
                last += 1;
            }
            if tally.total() > 0 {
                let (t0, t1) = (time_of(first), time_of(last + 1));
                tally.draw(
                    &mut out,
                    &CellShape {
                        class: "op",
                        x: axis.left + first as f64 * width,
                        y: TOP + lane as f64 * lane_height + lane_height * 0.1,
                        width: width * (last + 1 - first) as f64,
                        height: lane_height * 0.8,
                        opacity: 0.35 + 0.65 * tally.total() as f64 / busiest,
                        attributes: format!(" data-bin=\"{},{t0},{t1}\"", processes[lane]),
                        title: format!(
                            "p{} {}–{}: {}",
                            processes[lane],
                            seconds(t0),
                            seconds(t1),
                            tally.describe()
                        ),
                    },
                );
            }
            first = last + 1;
        }
    }
    for (position, op) in ops.iter().filter(|(_, op)| op.outcome == Outcome::Info) {
        let lane_top = TOP + lane_of[&op.process()] as f64 * lane_height;
        out.push_str(&tail(*position, op, axis, lane_top, lane_height));
    }
    out.push_str("</g>");
    out
}

/// Bars at least this wide carry a text label.
const LABELLED_BAR: f64 = 60.0;

/// A bar's label: `write "a"` or `read -> "a"`, from the invoke and the completion.
fn bar_text(op: &Op) -> String {
    let result = op.completion.map(|c| &c.value).filter(|v| !v.is_null());
    match (op.invoke.value.is_null(), result) {
        (true, Some(r)) => format!("{} -> {r}", op.invoke.f),
        (false, _) => format!("{} {}", op.invoke.f, op.invoke.value),
        (true, None) => op.invoke.f.clone(),
    }
}

/// Where an op's solid bar ends: its completion, or its invoke if it never completed (its
/// unknown outcome is then drawn by [`tail`]).
fn bar_end(op: &Op, axis: &Axis) -> u64 {
    op.end.unwrap_or(op.start).min(axis.end)
}

/// An unknown op may take effect at any time after its invoke: a faint thin bar from its
/// solid part to the end of the run, as Jepsen draws info ops to the end.
fn tail(position: usize, op: &Op, axis: &Axis, lane_top: f64, lane_height: f64) -> String {
    let x0 = axis.x(bar_end(op, axis));
    format!(
        "<rect class=\"op info tail\" data-op=\"{position}\" x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\"><title>{}: unknown outcome, it may take effect any time after its invoke</title></rect>",
        lane_top + lane_height * 0.4,
        (axis.right() - x0).max(0.0),
        lane_height * 0.2,
        html(&op.describe())
    )
}

/// The timeline section: the lanes, a legend, and the details panel clicks fill in.
pub fn section(
    ops: &[Op],
    skipped: usize,
    axis: &Axis,
    faults: &[FaultInterval],
    adversary: &Lanes,
    highlight: &Highlight,
) -> String {
    let mut out = String::from("<section id=\"timeline\"><h2>Timeline</h2>");
    let listed: Vec<(usize, &Op)> = ops.iter().enumerate().collect();
    let mut hint = format!(
        "{} ops by {} client processes. Hover for a summary; click an op for its details.",
        ops.len(),
        ops.iter().map(Op::process).collect::<HashSet<_>>().len()
    );
    if ops.len() > AGGREGATE_ABOVE {
        let _ = write!(
            hint,
            " More than {AGGREGATE_ABOVE} ops: each lane is binned into {BINS} time buckets \
             (darker = more ops active; a bucket takes the colour of its most common outcome, and a \
             small mark at its foot shows rarer failures or unknown outcomes); click a bucket to list its ops."
        );
    }
    if skipped > 0 {
        let _ = write!(
            hint,
            " {skipped} event(s) without a time or without a matching invoke are not drawn."
        );
    }
    let _ = write!(
        out,
        "<p class=\"hint\">{}</p>\
         <p class=\"legend\"><span class=\"swatch ok\"></span>ok <span class=\"swatch fail\"></span>fail \
         <span class=\"swatch info\"></span>unknown (info) <span class=\"swatch fault\"></span>network or process fault in force \
         <span class=\"swatch window\"></span>violation window <span class=\"swatch blocked\"></span>op that cannot be linearized</p>{}\
         <div class=\"timeline-layout\"><div class=\"plot\">{}</div>\
         <aside id=\"details\" aria-live=\"polite\"><h3>Details</h3><p class=\"hint\" id=\"details-empty\">Click an op, a bucket or an adversary mark.</p><div id=\"details-body\"></div></aside></div>",
        html(&hint),
        adversary.legend(),
        lanes("timeline-svg", &listed, axis, faults, adversary, highlight)
    );
    out.push_str("</section>");
    out
}
