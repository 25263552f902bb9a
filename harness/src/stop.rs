//! Stopping long-running tasks of a run with a `watch` flag.

use std::time::Duration;
use tokio::sync::watch;

/// Resolves once the flag is true (or its sender is gone).
pub async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The borrow guard is dropped here, so callers stay `Send`.
    let _ = stop.wait_for(|s| *s).await;
}

/// Sleeps for `d`, or less if the flag turns true; says whether it did.
pub async fn wait_or_stop(d: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = stopped(stop) => return true,
    }
    let flag = *stop.borrow();
    flag
}
