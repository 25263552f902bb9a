//! The fault detectors at the end of `traitor run`: `detectors.json` beside the verdict,
//! with the findings scored against the run's own `faults.jsonl`. Advisory: a suspect never
//! changes the verdict or the exit code, and detectors that cannot run are a warning.

use crate::exit::warning;
use crate::store::RunStore;
use traitor_checkers::detectors::{self, Report};
use traitor_checkers::run_folder::RunFolder;

/// Runs the detectors on the stored run and writes `detectors.json`; returns what was
/// written, or `None` (with a warning) when the folder could not be read or written.
pub fn write_detectors(store: &RunStore) -> Option<Report> {
    let report = match RunFolder::load(&store.dir) {
        Ok(run) => detectors::report(&run),
        Err(e) => {
            warning(format!("fault detectors: {e}"));
            return None;
        }
    };
    if let Err(e) = store.write_json("detectors.json", &report) {
        warning(format!("fault detectors: {e}"));
        return None;
    }
    Some(report)
}

/// One line for the terminal: who each detector suspects.
pub fn summary_line(report: &Report) -> String {
    if report.findings.findings.is_empty() {
        return "detectors: no suspect".into();
    }
    let named: Vec<String> = report
        .findings
        .findings
        .iter()
        .map(|f| format!("{} {:?}", f.detector, f.nodes))
        .collect();
    format!("detectors (advisory): {}", named.join(", "))
}
