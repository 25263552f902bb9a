//! Building a binary of a Cargo workspace, for an image (static) or for a local process.

use std::path::{Path, PathBuf};

use tokio::process::Command;

use crate::error::{ClusterError, Context, Result};

/// The target a static build names explicitly, so `RUSTFLAGS` reach only the binary and not
/// build scripts or proc macros (which cannot be linked statically).
const STATIC_TARGET: &str = "x86_64-unknown-linux-gnu";

/// How the binary is linked, which decides where it is built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Linking {
    /// `+crt-static` into `<workspace>/target/static`, for a `FROM scratch` image; its own
    /// target dir so that switching flags never invalidates the normal build.
    Static,
    /// The ordinary release build in `<workspace>/target`, for the process backend.
    Dynamic,
}

/// Builds `bin` (package and binary of the same name) of `workspace` in release mode and
/// returns the executable's path. Cargo's own output is kept for the error message.
pub(crate) async fn build_bin(workspace: &Path, bin: &str, linking: Linking) -> Result<PathBuf> {
    let action = || {
        format!(
            "building binary {bin} of the Cargo workspace {} ({linking:?})",
            workspace.display()
        )
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace)
        .args(["build", "--release", "--quiet", "-p", bin, "--bin", bin])
        .kill_on_drop(true);
    let exe = match linking {
        Linking::Static => {
            let target_dir = workspace.join("target").join("static");
            cmd.args(["--target", STATIC_TARGET])
                .env_remove("CARGO_ENCODED_RUSTFLAGS")
                .env("RUSTFLAGS", "-C target-feature=+crt-static")
                .env("CARGO_TARGET_DIR", &target_dir);
            target_dir.join(STATIC_TARGET).join("release").join(bin)
        }
        Linking::Dynamic => {
            let target_dir = workspace.join("target");
            cmd.env("CARGO_TARGET_DIR", &target_dir);
            target_dir.join("release").join(bin)
        }
    };
    let out = cmd
        .output()
        .await
        .context(|| format!("{}: starting cargo (is it on PATH?)", action()))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(30).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(ClusterError::new(
            action(),
            format!(
                "cargo exited with {}; the package and its binary must both be named {bin:?}. \
                 Cargo said:\n{}",
                out.status,
                tail.join("\n")
            ),
        ));
    }
    if !exe.is_file() {
        return Err(ClusterError::new(
            action(),
            format!("cargo succeeded but {} is missing", exe.display()),
        ));
    }
    Ok(exe)
}
