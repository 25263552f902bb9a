//! Latency over time (completion minus invoke, per op, coloured by outcome) and throughput
//! (completed ops per second), both over the run's time axis with nemesis faults shaded
//! and adversary actions in lanes above, as a performance view of the same history the
//! timeline shows.

use super::actions::Lanes;
use super::escape::html;
use super::faults::FaultInterval;
use super::format::{duration, seconds};
use super::ops::{Op, Outcome};
use super::svg::Axis;
use super::tally::{CellShape, Tally};
use super::timeline::AGGREGATE_ABOVE;
use std::fmt::Write;

const HEIGHT: f64 = 240.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 22.0;
/// Cells per axis when the latency plot is binned.
const X_CELLS: usize = 200;
const Y_CELLS: usize = 40;

/// The plots section.
pub fn section(ops: &[Op], axis: &Axis, faults: &[FaultInterval], adversary: &Lanes) -> String {
    let plot = Plot {
        axis,
        faults,
        adversary,
    };
    format!(
        "<section id=\"plots\"><h2>Latency and throughput</h2>{}\
         <h3>Latency (log scale)</h3>{}<h3>Throughput</h3>{}</section>",
        adversary.legend(),
        latency(ops, &plot),
        throughput(ops, &plot)
    )
}

/// What every plot is drawn over: the time axis, the faults shaded, the adversary lanes.
struct Plot<'a> {
    axis: &'a Axis,
    faults: &'a [FaultInterval],
    adversary: &'a Lanes,
}

impl Plot<'_> {
    /// The SVG element `id` around `body`, with the fault bands and the time axis under it.
    fn svg(&self, id: &str, label: &str, body: &str) -> String {
        self.adversary.svg(
            &format!("id=\"{id}\" class=\"plot-svg\" role=\"img\" aria-label=\"{label}\""),
            self.axis,
            TOP + HEIGHT + BOTTOM,
            &format!(
                "{}{}{body}",
                self.axis.fault_bands(self.faults, 0.0, TOP + HEIGHT, true),
                self.axis.ticks(TOP, TOP + HEIGHT),
            ),
        )
    }
}

/// A log scale over latencies in nanoseconds, from the plot's bottom to its top.
struct LogScale {
    low: f64,
    high: f64,
}

impl LogScale {
    fn y(&self, ns: u64) -> f64 {
        let v = (ns.max(1) as f64).log10().clamp(self.low, self.high);
        let bottom = TOP + HEIGHT;
        bottom - (v - self.low) / (self.high - self.low) * HEIGHT
    }

    fn grid(&self, axis: &Axis) -> String {
        let mut out = String::from("<g class=\"axis\">");
        let mut decade = self.low.ceil() as i32;
        while f64::from(decade) <= self.high {
            let ns = 10f64.powi(decade) as u64;
            let y = self.y(ns);
            let _ = write!(
                out,
                "<line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                axis.left,
                axis.right(),
                axis.left - 6.0,
                y + 4.0,
                duration(ns)
            );
            decade += 1;
        }
        out.push_str("</g>");
        out
    }
}

fn latency(ops: &[Op], plot: &Plot) -> String {
    let axis = plot.axis;
    let points: Vec<(usize, &Op, u64, u64)> = ops
        .iter()
        .enumerate()
        .filter_map(|(i, op)| Some((i, op, op.end?, op.latency()?)))
        .collect();
    if points.is_empty() {
        return "<p class=\"missing\">No completed op to plot.</p>".into();
    }
    let low = points.iter().map(|p| p.3).min().unwrap_or(1).max(1000);
    let high = points.iter().map(|p| p.3).max().unwrap_or(1).max(low * 10);
    let scale = LogScale {
        low: (low as f64).log10().floor(),
        high: (high as f64).log10().ceil(),
    };
    let mut out = scale.grid(axis);
    if points.len() > AGGREGATE_ABOVE {
        out.push_str(&latency_cells(&points, axis, &scale));
    } else {
        for (i, op, end, latency) in &points {
            let _ = write!(
                out,
                "<circle class=\"pt {}\" data-op=\"{i}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\"><title>{}: {} at {}</title></circle>",
                op.outcome.class(),
                axis.x(*end),
                scale.y(*latency),
                html(&op.describe()),
                duration(*latency),
                seconds(*end)
            );
        }
    }
    plot.svg("latency-svg", "latency of each op over time", &out)
}

/// Ops counted per (time, latency) cell, for runs too large for a point each.
fn latency_cells(points: &[(usize, &Op, u64, u64)], axis: &Axis, scale: &LogScale) -> String {
    let mut cells = vec![Tally::default(); X_CELLS * Y_CELLS];
    let span = (axis.end - axis.start) as f64;
    for (_, op, end, latency) in points {
        let x = (((end.saturating_sub(axis.start)) as f64 / span * X_CELLS as f64) as usize)
            .min(X_CELLS - 1);
        let v = (*latency.max(&1) as f64).log10();
        let y = (((v - scale.low) / (scale.high - scale.low) * Y_CELLS as f64) as usize)
            .min(Y_CELLS - 1);
        cells[y * X_CELLS + x].add(op.outcome);
    }
    let busiest = cells.iter().map(Tally::total).max().unwrap_or(1).max(1);
    let (w, h) = (axis.width / X_CELLS as f64, HEIGHT / Y_CELLS as f64);
    let mut out = String::from("<g class=\"cells\">");
    for (i, tally) in cells.iter().enumerate() {
        if tally.total() == 0 {
            continue;
        }
        let (x, y) = (i % X_CELLS, i / X_CELLS);
        let lat_low = 10f64.powf(scale.low + (scale.high - scale.low) * y as f64 / Y_CELLS as f64);
        tally.draw(
            &mut out,
            &CellShape {
                class: "pt",
                x: axis.left + x as f64 * w,
                y: TOP + HEIGHT - (y + 1) as f64 * h,
                width: w,
                height: h,
                opacity: 0.3
                    + 0.7 * (f64::from(tally.total()).ln_1p() / f64::from(busiest).ln_1p()),
                attributes: String::new(),
                title: format!(
                    "{}; latency ≥ {}",
                    tally.describe(),
                    duration(lat_low as u64)
                ),
            },
        );
    }
    out.push_str("</g>");
    out
}

/// Bucket width for the throughput plot: a round length giving at most 120 buckets.
fn bucket_ns(span: u64) -> u64 {
    [
        10u64, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000,
    ]
    .iter()
    .map(|ms| ms * 1_000_000)
    .find(|b| span / b <= 120)
    .unwrap_or(span / 120 + 1)
}

fn throughput(ops: &[Op], plot: &Plot) -> String {
    let axis = plot.axis;
    let bucket = bucket_ns(axis.end - axis.start);
    let count = ((axis.end - axis.start) / bucket + 1) as usize;
    let mut ok = vec![0u32; count];
    let mut other = vec![0u32; count];
    for op in ops {
        let Some(end) = op.end else { continue };
        let b = ((end.saturating_sub(axis.start)) / bucket) as usize;
        if b < count {
            match op.outcome {
                Outcome::Ok => ok[b] += 1,
                _ => other[b] += 1,
            }
        }
    }
    // The last bucket is cut by the end of the run: its rate is over the part that exists.
    let length = |b: usize| {
        let t0 = axis.start + b as u64 * bucket;
        (axis.end.saturating_sub(t0)).min(bucket).max(1)
    };
    let per_second = |b: usize, n: u32| f64::from(n) * 1e9 / length(b) as f64;
    let peak = ok
        .iter()
        .chain(&other)
        .enumerate()
        .map(|(i, n)| per_second(i % count, *n))
        .fold(1.0, f64::max);
    let y = |rate: f64| TOP + HEIGHT - rate / peak * HEIGHT;
    let line = |counts: &[u32]| {
        let mut points = String::new();
        for (b, n) in counts.iter().enumerate() {
            let t0 = axis.start + b as u64 * bucket;
            let _ = write!(
                points,
                "{:.1},{:.1} {:.1},{:.1} ",
                axis.x(t0),
                y(per_second(b, *n)),
                axis.x(t0 + length(b)),
                y(per_second(b, *n))
            );
        }
        points
    };
    let body = format!(
        "<g class=\"axis\"><line x1=\"{l:.1}\" x2=\"{r:.1}\" y1=\"{t:.1}\" y2=\"{t:.1}\"/><text x=\"{lx:.1}\" y=\"{ty:.1}\" text-anchor=\"end\">{peak:.0}/s</text><text x=\"{lx:.1}\" y=\"{by:.1}\" text-anchor=\"end\">0/s</text></g>\
         <polyline class=\"rate ok\" points=\"{}\"><title>ok ops per second ({} buckets)</title></polyline>\
         <polyline class=\"rate other\" points=\"{}\"><title>failed or unknown ops per second</title></polyline>",
        line(&ok),
        duration(bucket),
        line(&other),
        l = axis.left,
        r = axis.right(),
        t = TOP,
        lx = axis.left - 6.0,
        ty = TOP + 4.0,
        by = TOP + HEIGHT + 4.0,
    );
    format!(
        "{}<p class=\"legend\"><span class=\"swatch ok\"></span>ok per second <span class=\"swatch fail\"></span>failed or unknown per second</p>",
        plot.svg("throughput-svg", "completed ops per second over time", &body)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_stay_round_and_few() {
        assert_eq!(bucket_ns(10_000_000_000), 100_000_000);
        assert_eq!(bucket_ns(600_000_000), 10_000_000);
        assert_eq!(bucket_ns(60_000_000_000), 500_000_000);
        assert!(3_600_000_000_000 / bucket_ns(3_600_000_000_000) <= 120);
    }
}
