//! The progress line of a run: phase, ops done, the fault in force. Drawn on stderr only
//! when it is a terminal.

use crate::workload::Counters;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use traitor_model::run::PhaseTime;

/// A spinner with a message rebuilt from shared counters.
#[derive(Clone)]
pub struct Progress {
    bar: ProgressBar,
    phase: Arc<Mutex<String>>,
    /// When each phase began, in order: where a run's seconds go.
    began: Arc<Mutex<Vec<(String, Instant)>>>,
}

impl Progress {
    pub fn new() -> Self {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        Self {
            bar,
            phase: Arc::new(Mutex::new(String::new())),
            began: Arc::default(),
        }
    }

    /// Names the phase the run is in; also logged as a line when stderr is not a terminal.
    pub fn phase(&self, phase: &str) {
        *self.phase.lock().unwrap_or_else(|p| p.into_inner()) = phase.to_string();
        self.began
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((phase.to_string(), Instant::now()));
        if self.bar.is_hidden() {
            eprintln!("traitor: {phase}");
        }
        self.bar.set_message(phase.to_string());
    }

    /// Redraws the message from the clients' counters and the fault in force.
    pub fn update(&self, counters: &Counters, fault: &str) {
        let phase = self.phase.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let fault = if fault.is_empty() { "none" } else { fault };
        self.bar.set_message(format!(
            "{phase} | ops ok {} fail {} info {} | fault: {fault}",
            counters.ok.load(Ordering::Relaxed),
            counters.fail.load(Ordering::Relaxed),
            counters.info.load(Ordering::Relaxed)
        ));
    }

    /// How long each phase took, the last one until now.
    pub fn phase_times(&self) -> Vec<PhaseTime> {
        let began = self.began.lock().unwrap_or_else(|p| p.into_inner());
        let ends = began
            .iter()
            .skip(1)
            .map(|(_, at)| *at)
            .chain([Instant::now()]);
        began
            .iter()
            .zip(ends)
            .map(|((phase, start), end)| PhaseTime {
                phase: phase.clone(),
                seconds: (end - *start).as_secs_f64(),
            })
            .collect()
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
}
