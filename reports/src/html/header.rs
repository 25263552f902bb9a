//! The top of the report: what was run (target, variant, nodes, seed, Byzantine set,
//! adversaries, nemesis, times) and what the checkers concluded, colour-coded.

use super::escape::{html, value_text};
use super::format::{duration, seconds};
use super::load::{Note, RunData};
use std::fmt::Write;
use traitor_checkers::Validity;

fn validity_class(v: Validity) -> &'static str {
    match v {
        Validity::Holds => "holds",
        Validity::Unknown => "unknown",
        Validity::Violated => "violated",
    }
}

/// The header section, with the folder notes (missing or damaged files) under it.
pub fn section(run: &RunData) -> String {
    let m = run.manifest.as_ref();
    let run_id = m
        .map(|m| m.run_id.clone())
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| run.dir.display().to_string());
    let mut out = format!(
        "<header id=\"header\"><h1>traitor run <span class=\"run-id\">{}</span></h1>",
        html(&run_id)
    );
    match &run.verdict {
        Some(v) => {
            let _ = write!(
                out,
                "<p id=\"overall\" class=\"badge {}\">{}</p>",
                validity_class(v.valid),
                match v.valid {
                    Validity::Holds => "every check holds",
                    Validity::Unknown => "some checks could not decide",
                    Validity::Violated => "VIOLATION found",
                }
            );
        }
        None => out.push_str("<p id=\"overall\" class=\"badge unknown\">not checked</p>"),
    }
    out.push_str("<dl class=\"meta\">");
    let mut row = |name: &str, value: String| {
        let _ = write!(out, "<dt>{name}</dt><dd>{}</dd>", html(&value));
    };
    if let Some(m) = m {
        row("target", m.target.clone());
        row(
            "variant",
            m.variant.clone().unwrap_or_else(|| "(correct)".into()),
        );
        if let Some(model) = &m.model {
            row("model", model.clone());
        }
        row("nodes", format!("n = {}, f = {}", m.n, m.f));
        row("seed", m.seed.to_string());
        row("Byzantine", nodes(&m.byzantine));
        row("adversaries", list(&m.adversaries));
        row("nemesis", list(&m.nemesis));
        if let Some(c) = &m.campaign {
            row("campaign", c.clone());
        }
        row(
            "started",
            m.started_at.clone().unwrap_or_else(|| "unknown".into()),
        );
        row(
            "ended",
            m.ended_at
                .clone()
                .unwrap_or_else(|| "not recorded (the run may have been cut short)".into()),
        );
        if let Some(h) = m.healed_at {
            row("healed at", seconds(h));
        }
        if let Some(b) = m.termination_bound_ns {
            row("termination bound", duration(b));
        }
        if !m.versions.is_null() {
            row("versions", value_text(&m.versions));
        }
    }
    out.push_str("</dl>");
    if let Some(v) = &run.verdict {
        out.push_str("<div id=\"verdicts\">");
        for c in &v.checks {
            let _ = write!(
                out,
                "<div class=\"check {}\"><span class=\"checker\">{}</span> <span class=\"word\">{}</span><p>{}</p></div>",
                validity_class(c.valid),
                html(&c.checker),
                c.valid.word(),
                html(&c.summary)
            );
        }
        out.push_str("</div>");
    }
    out.push_str(&notes(&run.notes));
    out.push_str("</header>");
    out
}

fn nodes(ids: &[u32]) -> String {
    if ids.is_empty() {
        "none".into()
    } else {
        ids.iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn list(items: &[serde_json::Value]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.iter().map(value_text).collect::<Vec<_>>().join("; ")
    }
}

fn notes(notes: &[Note]) -> String {
    if notes.is_empty() {
        return String::new();
    }
    let mut out = String::from("<div id=\"notes\"><h2>About this run folder</h2><ul>");
    for n in notes {
        let _ = write!(
            out,
            "<li><code>{}</code>: {}</li>",
            html(&n.file),
            html(&n.message)
        );
    }
    out.push_str("</ul></div>");
    out
}
