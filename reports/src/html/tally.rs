//! Ops counted by outcome in one cell of a binned drawing (a timeline bucket, a latency
//! cell), and how such a cell is drawn: coloured by its most common outcome, with a small
//! mark for each rarer failed or unknown outcome, so a few failures among many successes
//! stay visible without painting the whole cell red.

use super::ops::Outcome;
use std::fmt::Write;

/// Counts by outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub ok: u32,
    pub fail: u32,
    pub info: u32,
}

/// Where and how to draw one cell.
pub struct CellShape<'a> {
    /// Class prefix of the elements (`op` on the timeline, `pt` on plots).
    pub class: &'a str,
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    pub opacity: f64,
    /// Extra attributes of the cell's group (a `data-bin` for clicks), already escaped.
    pub attributes: String,
    /// The hover text, already escaped.
    pub title: String,
}

impl Tally {
    pub fn add(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Ok => self.ok += 1,
            Outcome::Fail => self.fail += 1,
            Outcome::Info => self.info += 1,
        }
    }

    pub fn total(&self) -> u32 {
        self.ok + self.fail + self.info
    }

    /// The most common outcome; on a tie the more alarming one (fail, then unknown).
    pub fn majority(&self) -> Outcome {
        if self.fail >= self.ok && self.fail >= self.info {
            Outcome::Fail
        } else if self.info >= self.ok {
            Outcome::Info
        } else {
            Outcome::Ok
        }
    }

    /// `12 ok, 1 fail, 0 info`.
    pub fn describe(&self) -> String {
        format!("{} ok, {} fail, {} info", self.ok, self.fail, self.info)
    }

    /// Writes the cell: a group with the hover text, the cell, and a mark along its bottom
    /// for each failed or unknown outcome that is present but not the majority.
    pub fn draw(&self, out: &mut String, cell: &CellShape) {
        let majority = self.majority();
        let _ = write!(
            out,
            "<g{}><title>{}</title><rect class=\"{} {}\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.2}\" height=\"{:.2}\" fill-opacity=\"{:.2}\"/>",
            cell.attributes,
            cell.title,
            cell.class,
            majority.class(),
            cell.x,
            cell.y,
            cell.width,
            cell.height,
            cell.opacity
        );
        let marks = [(Outcome::Fail, self.fail), (Outcome::Info, self.info)];
        let rare: Vec<Outcome> = marks
            .iter()
            .filter(|(o, n)| *n > 0 && *o != majority)
            .map(|(o, _)| *o)
            .collect();
        let mark_width = (cell.width / 2.0).max(1.5);
        for (i, outcome) in rare.iter().enumerate() {
            let _ = write!(
                out,
                "<rect class=\"{} {} mark\" x=\"{:.1}\" y=\"{:.1}\" width=\"{mark_width:.2}\" height=\"{:.2}\"/>",
                cell.class,
                outcome.class(),
                cell.x + i as f64 * mark_width,
                cell.y + cell.height * 0.6,
                cell.height * 0.4
            );
        }
        out.push_str("</g>");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_majority_colours_and_rare_outcomes_are_marked() {
        let mut t = Tally::default();
        for _ in 0..20 {
            t.add(Outcome::Ok);
        }
        t.add(Outcome::Fail);
        assert_eq!(t.majority(), Outcome::Ok);
        let mut out = String::new();
        t.draw(
            &mut out,
            &CellShape {
                class: "op",
                x: 0.0,
                y: 0.0,
                width: 4.0,
                height: 10.0,
                opacity: 1.0,
                attributes: String::new(),
                title: t.describe(),
            },
        );
        assert!(out.contains("class=\"op ok\"") && out.contains("class=\"op fail mark\""));
        assert!(!out.contains("op info"));
        let tie = Tally {
            ok: 1,
            fail: 1,
            info: 0,
        };
        assert_eq!(tie.majority(), Outcome::Fail);
    }
}
