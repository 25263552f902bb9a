//! How traitor shows what it found: terminal tables and JSON lines for `traitor check`,
//! and the self-contained HTML report of a run folder. Everything takes recorded results,
//! never live state.

pub mod campaign;
pub mod check;
pub mod html;

pub use html::campaign::{is_campaign, write_campaign_report};
pub use html::{render_run_report, write_run_report, ReportError};
