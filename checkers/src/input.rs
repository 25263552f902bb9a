//! From history text to operations, batch by batch, so that only the compact operations of
//! a large history are held, never all its parsed events at once.

use crate::models::Model;
use crate::ops::{Operations, OpsBuilder};
use traitor_model::read::{parse_history_chunks, require_format, HistoryFormat, ParseError};

/// A history that could not be read: which line and what is wrong with it.
pub type InputError = ParseError;

/// A history read and turned into operations.
#[derive(Debug)]
pub struct LoadedHistory {
    pub format: HistoryFormat,
    pub operations: Operations,
}

/// Reads JSONL or EDN history text (detected) into operations for `model`. Warnings (a
/// truncated tail, odd pairings) end up in `operations.warnings`.
pub fn load_history(text: &str, model: Model) -> Result<LoadedHistory, InputError> {
    let format = require_format(text)?;
    let mut builder = OpsBuilder::new(model);
    let (_, warnings) = parse_history_chunks(text, format, |events| {
        for (line, event) in &events {
            builder.push(event).map_err(|message| ParseError {
                line: *line,
                message,
            })?;
        }
        Ok::<(), ParseError>(())
    })?;
    let mut operations = builder.finish();
    operations.warnings.splice(0..0, warnings);
    Ok(LoadedHistory { format, operations })
}
