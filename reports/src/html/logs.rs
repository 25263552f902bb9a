//! Node logs, each in a collapsible block, escaped (a log is written by the target and is
//! untrusted) and cut to its last lines.

use super::escape::html;
use super::load::{NodeLog, LOG_TAIL_LINES};
use std::fmt::Write;

/// The logs section.
pub fn section(logs: &[NodeLog]) -> String {
    let mut out = String::from("<section id=\"logs\"><h2>Node logs</h2>");
    if logs.is_empty() {
        out.push_str("<p class=\"missing\">No node log in <code>logs/</code>.</p>");
    }
    for log in logs {
        let cut = if log.omitted_lines > 0 {
            format!(
                ", showing the last {} (the first {} left out; at most {LOG_TAIL_LINES} lines are kept)",
                log.total_lines - log.omitted_lines,
                log.omitted_lines
            )
        } else {
            String::new()
        };
        let _ = write!(
            out,
            "<details class=\"log\"><summary>{} — {} line(s){cut}</summary><pre>{}</pre></details>",
            html(&log.name),
            log.total_lines,
            html(&log.tail)
        );
    }
    out.push_str("</section>");
    out
}
