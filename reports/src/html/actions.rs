//! Adversary actions: what the Byzantine nodes did wrong (corrupted, equivocated, split
//! into twins, ...), drawn in lanes of their own above every time plot, one lane per acting
//! node, as stacked marks per time bucket coloured by kind. A run under an adversary
//! records thousands of them; drawn as fault bands they would cover the ops, so only the
//! network and process faults of the nemesis are bands.
//!
//! `faults.jsonl` tells the two apart by their records: every adversary's note (built-in
//! or plugin) names the adversary that took it (`detail.adversary`), a twins split is
//! recorded as `equivocate-twins` and a failed adversary as `adversary-failed`; everything
//! else was injected by the nemesis.

use super::escape::{html, value_text};
use super::format::seconds;
use super::svg::Axis;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use traitor_model::{FaultRecord, NodeId};

/// Height of one adversary lane, in SVG units.
const LANE: f64 = 16.0;
/// Room below the lanes, before the plot they sit on.
const GAP: f64 = 6.0;
/// Kinds with a colour of their own; the rest share the last colour as `other`.
const COLOURS: usize = 8;
/// Time buckets per 100 SVG units of axis.
const BUCKETS_PER_100: f64 = 20.0;
/// Actions described one by one in a mark's tooltip.
const TOOLTIP_ACTIONS: usize = 4;

/// The kind of a twins split: it stands until the node's next split or the run's end.
const TWINS: &str = "equivocate-twins";

/// Whether `record` is an adversary's action rather than a nemesis fault.
fn is_adversary(record: &FaultRecord) -> bool {
    record.detail.get("adversary").is_some()
        || record.kind == TWINS
        || record.kind == "adversary-failed"
}

/// One action of an adversary, as recorded.
#[derive(Clone, Debug)]
pub struct Action {
    pub time: u64,
    /// The node that acted: the sender of the message it touched, the twinned node; `None`
    /// for what no node did (an adversary that failed).
    pub actor: Option<NodeId>,
    pub kind: String,
    pub nodes: Vec<NodeId>,
    pub detail: Value,
}

impl Action {
    fn new(record: &FaultRecord) -> Self {
        let from = record.detail.get("from").and_then(Value::as_u64);
        Self {
            time: record.time,
            actor: from
                .map(|n| n as NodeId)
                .or_else(|| record.nodes.first().copied()),
            kind: record.kind.clone(),
            nodes: record.nodes.clone(),
            detail: record.detail.clone(),
        }
    }

    /// `corrupt 1->2 prepare: field=digest`: the kind, the link, the message and the rest.
    fn describe(&self) -> String {
        let d = &self.detail;
        let mut out = self.kind.clone();
        match (d.get("from"), d.get("to")) {
            (Some(from), Some(to)) => {
                let _ = write!(out, " {}->{}", value_text(from), value_text(to));
            }
            _ if !self.nodes.is_empty() => {
                let nodes: Vec<String> = self.nodes.iter().map(|n| n.to_string()).collect();
                let _ = write!(out, " {}", nodes.join(","));
            }
            _ => {}
        }
        if let Some(kind) = d.get("type").filter(|t| !t.is_null()) {
            let _ = write!(out, " {}", value_text(kind));
        }
        let rest = match d {
            Value::Object(map) => {
                let mut map = map.clone();
                for known in ["adversary", "action", "from", "to", "type"] {
                    map.remove(known);
                }
                // A built-in adversary's own detail is an object of its own: flattened.
                let inner = match map.remove("detail") {
                    Some(Value::Object(inner)) => inner,
                    Some(other) => [("detail".to_string(), other)].into_iter().collect(),
                    None => Default::default(),
                };
                map.into_iter()
                    .chain(inner)
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, v)| format!("{k}={}", value_text(&v)))
                    .collect::<Vec<_>>()
                    .join(" ")
            }
            Value::Null => String::new(),
            other => value_text(other),
        };
        if !rest.is_empty() {
            let _ = write!(out, ": {rest}");
        }
        out
    }
}

/// The actions of one node of one kind, for the tables.
pub struct Group<'a> {
    pub actor: Option<NodeId>,
    pub kind: &'a str,
    pub count: usize,
    pub first: &'a Action,
    pub last: u64,
}

/// Every adversary action of a run, laid out in lanes.
#[derive(Default)]
pub struct Lanes {
    actions: Vec<Action>,
    /// One lane each, in order: the Byzantine nodes, then any other actor, then `None`.
    actors: Vec<Option<NodeId>>,
    /// Kinds by how often they occur, most common first; the index picks the colour.
    kinds: Vec<(String, usize)>,
}

impl Lanes {
    /// Splits `records` into the nemesis faults, returned, and the adversary actions, laid
    /// out with a lane for every node of `byzantine` and every other actor (no lane at all
    /// when no adversary acted).
    pub fn split(records: &[FaultRecord], byzantine: &[NodeId]) -> (Vec<FaultRecord>, Self) {
        let (adversary, nemesis): (Vec<&FaultRecord>, Vec<&FaultRecord>) =
            records.iter().partition(|r| is_adversary(r));
        let mut actions: Vec<Action> = adversary.into_iter().map(Action::new).collect();
        actions.sort_by_key(|a| a.time);
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for a in &actions {
            *counts.entry(&a.kind).or_default() += 1;
        }
        let mut kinds: Vec<(String, usize)> = counts
            .into_iter()
            .map(|(k, n)| (k.to_string(), n))
            .collect();
        kinds.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let nodes: BTreeSet<NodeId> = byzantine
            .iter()
            .copied()
            .chain(actions.iter().filter_map(|a| a.actor))
            .collect();
        let mut actors: Vec<Option<NodeId>> = nodes.into_iter().map(Some).collect();
        if actions.iter().any(|a| a.actor.is_none()) {
            actors.push(None);
        }
        if actions.is_empty() {
            actors.clear();
        }
        let lanes = Self {
            actions,
            actors,
            kinds,
        };
        (nemesis.into_iter().cloned().collect(), lanes)
    }

    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    pub fn len(&self) -> usize {
        self.actions.len()
    }

    /// The room the lanes take above a plot: nothing when no adversary acted.
    pub fn height(&self) -> f64 {
        if self.actors.is_empty() {
            0.0
        } else {
            self.actors.len() as f64 * LANE + GAP
        }
    }

    /// The colour class of a kind: its rank, or the shared `other` colour.
    fn colour(&self, kind: &str) -> usize {
        self.kinds
            .iter()
            .position(|(k, _)| k == kind)
            .unwrap_or(COLOURS - 1)
            .min(COLOURS - 1)
    }

    fn lane_name(actor: Option<NodeId>) -> String {
        actor.map_or_else(|| "adversary".into(), |n| format!("traitor n{n}"))
    }

    /// An SVG of `height` units drawn by `body` in its own coordinates, under the adversary
    /// lanes: the lanes take the top, the body is moved down below them.
    pub fn svg(&self, attributes: &str, axis: &Axis, height: f64, body: &str) -> String {
        let lanes = self.height();
        format!(
            "<svg {attributes} viewBox=\"0 0 {:.0} {:.0}\" width=\"100%\">{}<g transform=\"translate(0 {lanes:.0})\">{body}</g></svg>",
            axis.total_width(),
            height + lanes,
            self.draw(axis),
        )
    }

    /// The lanes over `axis`, from y = 0: per lane and time bucket one mark, as high as the
    /// bucket is busy, stacked by kind, with the bucket's actions in its tooltip.
    fn draw(&self, axis: &Axis) -> String {
        if self.actors.is_empty() {
            return String::new();
        }
        let buckets = ((axis.width / 100.0 * BUCKETS_PER_100) as usize).max(1);
        let span = (axis.end - axis.start) as f64;
        let bucket_of =
            |t: u64| (((t - axis.start) as f64 / span * buckets as f64) as usize).min(buckets - 1);
        let lane_of: BTreeMap<Option<NodeId>, usize> = self
            .actors
            .iter()
            .enumerate()
            .map(|(i, a)| (*a, i))
            .collect();
        let mut grid: Vec<Vec<&Action>> = vec![Vec::new(); self.actors.len() * buckets];
        for a in self
            .actions
            .iter()
            .filter(|a| (axis.start..=axis.end).contains(&a.time))
        {
            grid[lane_of[&a.actor] * buckets + bucket_of(a.time)].push(a);
        }
        let busiest = grid.iter().map(Vec::len).max().unwrap_or(0).max(1) as f64;
        let width = axis.width / buckets as f64;
        let time_of = |b: usize| axis.start + (span * b as f64 / buckets as f64) as u64;
        let mut out = String::from("<g class=\"adversary\">");
        for (lane, actor) in self.actors.iter().enumerate() {
            let y = lane as f64 * LANE;
            let _ = write!(
                out,
                "<rect class=\"adv-lane\" x=\"{:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{LANE:.1}\"/>\
                 <text class=\"lane-label adv-label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                axis.left,
                axis.width,
                axis.left - 6.0,
                y + LANE / 2.0 + 4.0,
                html(&Self::lane_name(*actor)),
            );
        }
        out.push_str(&self.twins_spans(axis, &lane_of));
        for (i, cell) in grid.iter().enumerate().filter(|(_, c)| !c.is_empty()) {
            let (lane, bucket) = (i / buckets, i % buckets);
            let room = LANE - 2.0;
            let tall = room * (0.3 + 0.7 * (cell.len() as f64).ln_1p() / busiest.ln_1p());
            let x = axis.left + bucket as f64 * width;
            let mut per_colour = [0usize; COLOURS];
            for a in cell {
                per_colour[self.colour(&a.kind)] += 1;
            }
            let _ = write!(
                out,
                "<g class=\"act\" data-count=\"{}\"><title>{}</title>",
                cell.len(),
                html(&self.tooltip(
                    self.actors[lane],
                    time_of(bucket),
                    time_of(bucket + 1),
                    cell
                )),
            );
            let mut bottom = (lane + 1) as f64 * LANE - 1.0;
            for (colour, n) in per_colour.iter().enumerate().filter(|(_, n)| **n > 0) {
                let h = tall * *n as f64 / cell.len() as f64;
                let _ = write!(
                    out,
                    "<rect class=\"k{colour}\" x=\"{x:.1}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{h:.2}\"/>",
                    bottom - h,
                    (width - 0.5).max(0.8),
                );
                bottom -= h;
            }
            out.push_str("</g>");
        }
        out.push_str("</g>");
        out
    }

    /// Each twins split shaded faintly across its lane for as long as it stands.
    fn twins_spans(&self, axis: &Axis, lane_of: &BTreeMap<Option<NodeId>, usize>) -> String {
        let mut out = String::new();
        for (i, a) in self
            .actions
            .iter()
            .enumerate()
            .filter(|(_, a)| a.kind == TWINS)
        {
            let until = self.actions[i + 1..]
                .iter()
                .find(|b| b.kind == TWINS && b.actor == a.actor)
                .map_or(axis.end, |b| b.time);
            if until < axis.start || a.time > axis.end {
                continue;
            }
            let (x0, x1) = (axis.x(a.time), axis.x(until));
            let _ = write!(
                out,
                "<rect class=\"twins k{}\" x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{LANE:.1}\"><title>{}: this split stands from {} to {}</title></rect>",
                self.colour(TWINS),
                lane_of[&a.actor] as f64 * LANE,
                (x1 - x0).max(1.0),
                html(&a.describe()),
                seconds(a.time),
                seconds(until),
            );
        }
        out
    }

    /// A mark's tooltip: whose lane, when, how many of each kind, the first few actions.
    fn tooltip(&self, actor: Option<NodeId>, t0: u64, t1: u64, cell: &[&Action]) -> String {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for a in cell {
            *counts.entry(&a.kind).or_default() += 1;
        }
        let counts: Vec<String> = counts.iter().map(|(k, n)| format!("{k} {n}")).collect();
        let mut out = format!(
            "{} {}–{}: {} action(s): {}",
            Self::lane_name(actor),
            seconds(t0),
            seconds(t1),
            cell.len(),
            counts.join(", ")
        );
        for a in cell.iter().take(TOOLTIP_ACTIONS) {
            let _ = write!(out, "\n{} {}", seconds(a.time), a.describe());
        }
        if cell.len() > TOOLTIP_ACTIONS {
            let _ = write!(out, "\n... {} more", cell.len() - TOOLTIP_ACTIONS);
        }
        out
    }

    /// The key to the lanes' colours, with each kind's count.
    pub fn legend(&self) -> String {
        if self.is_empty() {
            return String::new();
        }
        let mut out = format!(
            "<p class=\"legend adv-legend\">Adversary actions ({}), one lane per acting node above each plot; a mark's height shows how many fell in its time bucket. Hover or click a mark for its actions.",
            self.len()
        );
        let (own, rest) = self.kinds.split_at(self.kinds.len().min(COLOURS - 1));
        for (i, (kind, n)) in own.iter().enumerate() {
            let _ = write!(
                out,
                " <span class=\"swatch k{i}\"></span>{} ({n})",
                html(kind)
            );
        }
        if !rest.is_empty() {
            let n: usize = rest.iter().map(|(_, n)| n).sum();
            let _ = write!(
                out,
                " <span class=\"swatch k{}\"></span>other kinds ({n})",
                COLOURS - 1
            );
        }
        out.push_str("</p>");
        out
    }

    /// The actions grouped by node and kind, in lane order.
    pub fn groups(&self) -> Vec<Group<'_>> {
        let mut groups: BTreeMap<(usize, &str), Group<'_>> = BTreeMap::new();
        for a in &self.actions {
            let lane = self.actors.iter().position(|x| *x == a.actor).unwrap_or(0);
            groups
                .entry((lane, &a.kind))
                .and_modify(|g| {
                    g.count += 1;
                    g.last = a.time;
                })
                .or_insert(Group {
                    actor: a.actor,
                    kind: &a.kind,
                    count: 1,
                    first: a,
                    last: a.time,
                });
        }
        groups.into_values().collect()
    }

    /// The table of the actions by node and kind, and the first ones one by one.
    pub fn table(&self) -> String {
        if self.is_empty() {
            return String::new();
        }
        let mut out = format!(
            "<h3 id=\"adversary-actions\">Adversary actions</h3><p class=\"hint\">{} action(s) by the Byzantine nodes, by node and kind.</p>\
             <table class=\"data adv\"><thead><tr><th>node</th><th>action</th><th>count</th><th>first</th><th>last</th><th>first one</th></tr></thead><tbody>",
            self.len()
        );
        for g in self.groups() {
            let _ = write!(
                out,
                "<tr><td>{}</td><td><span class=\"swatch k{}\"></span>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                html(&Self::lane_name(g.actor)),
                self.colour(g.kind),
                html(g.kind),
                g.count,
                seconds(g.first.time),
                seconds(g.last),
                html(&g.first.describe()),
            );
        }
        out.push_str("</tbody></table>");
        let listed = self.actions.len().min(LISTED);
        let _ = write!(
            out,
            "<details class=\"log\"><summary>The first {listed} of {} actions</summary><table class=\"data adv\"><thead><tr><th>at</th><th>node</th><th>action</th></tr></thead><tbody>",
            self.len()
        );
        for a in &self.actions[..listed] {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                seconds(a.time),
                html(&Self::lane_name(a.actor)),
                html(&a.describe())
            );
        }
        out.push_str("</tbody></table></details>");
        out
    }
}

/// Actions listed one by one in the faults section at most.
const LISTED: usize = 500;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(time: u64, kind: &str, nodes: &[NodeId], detail: Value) -> FaultRecord {
        FaultRecord {
            time,
            kind: kind.into(),
            nodes: nodes.to_vec(),
            detail,
        }
    }

    #[test]
    fn adversary_actions_are_told_from_nemesis_faults() {
        let corrupt = json!({"adversary": "corrupt", "action": "corrupt", "from": 3, "to": 1, "type": "prepare", "detail": {"field": "digest"}});
        let (nemesis, lanes) = Lanes::split(
            &[
                record(1, "partition-halves", &[0, 1], json!({})),
                record(2, "corrupt", &[3, 1], corrupt),
                record(3, "equivocate-twins", &[2], json!({"split": {}})),
                record(4, "heal", &[], json!({"healed": "partition"})),
                record(5, "adversary-failed", &[], json!("plugin hung")),
                record(6, "crash", &[0], json!({"signal": "KILL"})),
            ],
            &[3],
        );
        let kinds: Vec<&str> = nemesis.iter().map(|r| r.kind.as_str()).collect();
        assert_eq!(kinds, ["partition-halves", "heal", "crash"]);
        assert_eq!(lanes.len(), 3);
        assert_eq!(lanes.actors, [Some(2), Some(3), None]);
        assert_eq!(
            lanes.actions[0].describe(),
            "corrupt 3->1 prepare: field=digest"
        );
        assert_eq!(lanes.actions[2].describe(), "adversary-failed: plugin hung");
        // The split stands to the end of the axis, in the lane of node 2 (the first).
        let axis = Axis::run(0, 10);
        assert_eq!(lanes.draw(&axis).matches("<rect class=\"twins").count(), 1);
        assert!(lanes
            .twins_spans(&axis, &[(Some(2), 0)].into_iter().collect())
            .contains(&format!(
                " y=\"0.0\" width=\"{:.1}\"",
                axis.x(10) - axis.x(3)
            )));
    }

    #[test]
    fn marks_stay_in_their_lanes_and_count_every_action() {
        let records: Vec<FaultRecord> = (0..3000)
            .map(|i| {
                let kind = if i % 3 == 0 { "inject" } else { "corrupt" };
                record(
                    i * 1000,
                    kind,
                    &[i as NodeId % 2, 3],
                    json!({"adversary": "x", "from": i % 2}),
                )
            })
            .collect();
        let (_, lanes) = Lanes::split(&records, &[0, 1]);
        let axis = Axis::run(0, 3_000_000);
        let svg = lanes.draw(&axis);
        let counted: usize = svg
            .split("data-count=\"")
            .skip(1)
            .map(|s| s[..s.find('"').unwrap()].parse::<usize>().unwrap())
            .sum();
        assert_eq!(counted, 3000);
        for y in svg.split(" y=\"").skip(1) {
            let y: f64 = y[..y.find('"').unwrap()].parse().unwrap();
            assert!((0.0..2.0 * LANE).contains(&y), "{y}");
        }
        assert_eq!(lanes.height(), 2.0 * LANE + GAP);
    }
}
