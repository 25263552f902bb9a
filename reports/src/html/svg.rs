//! The shared run-time axis of every plot, and the fault intervals shaded across it, so
//! that the timeline, the plots and the heat maps line up and read the same way.

use super::escape::html;
use super::faults::FaultInterval;
use super::format::seconds;
use std::fmt::Write;

/// Width of every plot's drawing, in SVG user units (the SVGs scale to the page).
pub const PLOT_WIDTH: f64 = 1200.0;
/// Room left of the drawing for lane and row labels.
pub const LABEL_WIDTH: f64 = 90.0;

/// Maps run-relative nanoseconds `[start, end]` onto `[left, left + width]`.
#[derive(Clone, Copy, Debug)]
pub struct Axis {
    pub start: u64,
    pub end: u64,
    pub left: f64,
    pub width: f64,
}

impl Axis {
    /// The whole run, `start..end`, on a drawing [`PLOT_WIDTH`] wide.
    pub fn run(start: u64, end: u64) -> Self {
        Self::range(start, end, PLOT_WIDTH)
    }

    /// Another time range (a close-up) on a drawing `total` units wide, labels included.
    pub fn range(start: u64, end: u64, total: f64) -> Self {
        Self {
            start,
            end: end.max(start + 1),
            left: LABEL_WIDTH,
            width: total - LABEL_WIDTH - 10.0,
        }
    }

    /// The width of the whole drawing, labels and margin included.
    pub fn total_width(&self) -> f64 {
        self.right() + 10.0
    }

    pub fn x(&self, t: u64) -> f64 {
        let t = t.clamp(self.start, self.end);
        self.left + (t - self.start) as f64 / (self.end - self.start) as f64 * self.width
    }

    pub fn right(&self) -> f64 {
        self.left + self.width
    }

    /// Vertical grid lines with time labels below `bottom`, every round step.
    pub fn ticks(&self, top: f64, bottom: f64) -> String {
        let span = (self.end - self.start) as f64;
        let raw = span / 8.0;
        let magnitude = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 5.0, 10.0]
            .iter()
            .map(|m| m * magnitude)
            .find(|s| *s >= raw)
            .unwrap_or(raw)
            .max(1.0);
        let decimals = ((9.0 - step.log10()).ceil().max(0.0) as usize).max(3);
        let mut out = String::from("<g class=\"axis\">");
        let mut t = (self.start as f64 / step).ceil() * step;
        while t <= self.end as f64 {
            let x = self.x(t as u64);
            // Run time, with as many decimals as the step needs (close-ups are milliseconds
            // wide, deep into a run).
            let label = format!("{:.*} s", decimals, t / 1e9);
            let _ = write!(
                out,
                "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{top:.1}\" y2=\"{bottom:.1}\"/>\
                 <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"{}\">{label}</text>",
                bottom + 13.0,
                // A label at the right edge ends there instead of running off the drawing.
                if x > self.right() - 30.0 {
                    "end"
                } else {
                    "middle"
                }
            );
            t += step;
        }
        out.push_str("</g>");
        out
    }

    /// Every fault interval shaded from `top` to `bottom`, with its kind and nodes written
    /// at the top when `labelled` (alternating two rows so neighbours do not collide).
    pub fn fault_bands(
        &self,
        faults: &[FaultInterval],
        top: f64,
        bottom: f64,
        labelled: bool,
    ) -> String {
        let mut out = String::from("<g class=\"faults\">");
        for (i, f) in faults.iter().enumerate() {
            let end = f.end.unwrap_or(self.end);
            if end < self.start || f.start > self.end {
                continue;
            }
            let (x0, x1) = (self.x(f.start), self.x(end));
            let until = f.end.map(seconds).unwrap_or_else(|| "the end".into());
            let label = html(&f.label());
            let _ = write!(
                out,
                "<rect class=\"fault\" x=\"{x0:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{:.1}\"><title>{label}: {} to {until}</title></rect>",
                (x1 - x0).max(1.0),
                bottom - top,
                seconds(f.start),
            );
            if labelled {
                let _ = write!(
                    out,
                    "<text class=\"fault-label\" x=\"{:.1}\" y=\"{:.1}\">{label}</text>",
                    x0 + 2.0,
                    top + 10.0 + (i % 2) as f64 * 11.0
                );
            }
        }
        out.push_str("</g>");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_maps_the_ends_and_clamps() {
        let axis = Axis::run(0, 1_000);
        assert_eq!(axis.x(0), LABEL_WIDTH);
        assert_eq!(axis.x(1_000), axis.right());
        assert_eq!(axis.x(5_000), axis.right());
        let close = Axis::range(100, 200, 600.0);
        assert_eq!(close.total_width(), 600.0);
        assert_eq!(close.x(50), close.left);
        assert!(close.ticks(0.0, 10.0).contains("<text"));
        let deep = Axis::range(10_006_000_000, 10_014_000_000, 600.0);
        assert!(
            deep.ticks(0.0, 10.0).contains(">10.008 s<"),
            "{}",
            deep.ticks(0.0, 10.0)
        );
    }
}
