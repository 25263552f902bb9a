//! Images with no registry: every [`ImageSource`] becomes a local image tag, built by the
//! engine from an in-memory context or found locally. Nothing is ever pulled.
//!
//! Built images are tagged by content (`traitor-<name>:<16 hex of sha256>`), so a second run
//! with the same binary finds its tag and builds nothing, and a changed binary gets a new tag.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bollard::query_parameters::BuildImageOptionsBuilder;
use bollard::Docker;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use crate::cargo_build::{build_bin, Linking};
use crate::error::{ClusterError, Context, Result};
use crate::{ImageSource, IMAGE_LABEL};

/// The path of the node program inside the images traitor assembles, and their entrypoint.
const NODE_PATH: &str = "node";

/// An image ready to run, and what it cost to get it.
#[derive(Clone, Debug, PartialEq)]
pub struct BuiltImage {
    /// The local tag containers are created from.
    pub tag: String,
    /// True when the tag already existed and the engine built nothing.
    pub cached: bool,
    /// Wall time of the whole step: the cargo build (or its up-to-date check), hashing, and
    /// the engine build when there was one.
    pub elapsed: Duration,
}

/// Makes the image of `source` ready in the local engine; see [`BuiltImage`]. Connects to
/// Docker itself so that the harness can build images ahead of a campaign.
pub async fn ensure_image(source: &ImageSource) -> Result<BuiltImage> {
    let docker = crate::engine::connect().await?;
    ensure(&docker, source).await
}

/// [`ensure_image`] on an existing connection.
pub(crate) async fn ensure(docker: &Docker, source: &ImageSource) -> Result<BuiltImage> {
    let started = Instant::now();
    let context = match source {
        ImageSource::Image(name) => {
            docker.inspect_image(name).await.map_err(|e| {
                ClusterError::new(
                    format!("finding image {name}"),
                    format!(
                        "{e}; nothing can be pulled here (no registry): build it locally or \
                         `docker load` it, or use cargo_bin, host_bin or dockerfile in [image]"
                    ),
                )
            })?;
            return Ok(BuiltImage {
                tag: name.clone(),
                cached: true,
                elapsed: started.elapsed(),
            });
        }
        ImageSource::CargoBin { bin, workspace } => {
            let exe = build_bin(workspace, bin, Linking::Static).await?;
            let binary = read(&exe)?;
            BuildContext::assembled(bin, vec![(NODE_PATH.to_string(), binary)])?
        }
        ImageSource::HostBin(path) => {
            let mut files = vec![(NODE_PATH.to_string(), read(path)?)];
            for lib in linked_libraries(path).await? {
                let content = read(&lib)?;
                let inside = lib.to_string_lossy().trim_start_matches('/').to_string();
                files.push((inside, content));
            }
            BuildContext::assembled(&file_name(path), files)?
        }
        ImageSource::Dockerfile(path) => BuildContext::folder(path)?,
    };
    let cached = docker.inspect_image(&context.tag).await.is_ok();
    if !cached {
        context.build(docker).await?;
    }
    let image = BuiltImage {
        tag: context.tag,
        cached,
        elapsed: started.elapsed(),
    };
    tracing::info!(tag = %image.tag, cached, elapsed_ms = image.elapsed.as_millis() as u64, "image ready");
    Ok(image)
}

/// A tar build context with its Dockerfile's name and the tag it will get.
struct BuildContext {
    tar: Vec<u8>,
    dockerfile: String,
    name: String,
    tag: String,
}

impl BuildContext {
    /// A `FROM scratch` context holding `files` (paths inside the image, relative to `/`),
    /// with the first one as the entrypoint. The tag hashes the files' contents in order; for
    /// a single binary that is the binary's own sha256.
    fn assembled(name: &str, files: Vec<(String, Vec<u8>)>) -> Result<Self> {
        let name = sanitize(name);
        let action = || format!("assembling the build context of image {name}");
        let dockerfile = format!("FROM scratch\nCOPY rootfs/ /\nENTRYPOINT [\"/{NODE_PATH}\"]\n");
        let mut hash = Sha256::new();
        let mut tar = tar::Builder::new(Vec::new());
        append(&mut tar, "Dockerfile", dockerfile.as_bytes(), 0o644).context(action)?;
        for (path, content) in &files {
            hash.update(content);
            append(&mut tar, &format!("rootfs/{path}"), content, 0o755).context(action)?;
        }
        let tar = tar.into_inner().context(action)?;
        let tag = format!("traitor-{name}:{}", &hex::encode(hash.finalize())[..16]);
        Ok(Self {
            tar,
            dockerfile: "Dockerfile".into(),
            name,
            tag,
        })
    }

    /// The folder of `dockerfile` as the context (as `docker build` does), tagged by the hash
    /// of its contents.
    fn folder(dockerfile: &Path) -> Result<Self> {
        let action = || format!("packing the build context of {}", dockerfile.display());
        let dir = match dockerfile.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !dockerfile.is_file() {
            return Err(ClusterError::new(
                action(),
                "no such file: [image] dockerfile must name an existing Dockerfile",
            ));
        }
        let mut tar = tar::Builder::new(Vec::new());
        tar.mode(tar::HeaderMode::Deterministic);
        tar.append_dir_all(".", &dir).context(action)?;
        let tar = tar.into_inner().context(action)?;
        let dir_name = std::fs::canonicalize(&dir)
            .map(|d| file_name(&d))
            .unwrap_or_else(|_| "dockerfile".into());
        let name = sanitize(&dir_name);
        let tag = format!(
            "traitor-{name}:{}",
            &hex::encode(Sha256::digest(&tar))[..16]
        );
        Ok(Self {
            tar,
            dockerfile: file_name(dockerfile),
            name,
            tag,
        })
    }

    /// Has the engine build the context; the build's own error is the message.
    async fn build(&self, docker: &Docker) -> Result<()> {
        let action = || format!("building image {}", self.tag);
        let labels = HashMap::from([(IMAGE_LABEL, self.name.as_str())]);
        let options = BuildImageOptionsBuilder::default()
            .dockerfile(&self.dockerfile)
            .t(&self.tag)
            .rm(true)
            .forcerm(true)
            .labels(&labels)
            .build();
        let body = bollard::body_full(bytes::Bytes::from(self.tar.clone()));
        let mut progress = docker.build_image(options, None, Some(body));
        let mut output = String::new();
        while let Some(step) = progress.next().await {
            let step = step.context(action)?;
            if let Some(detail) = step.error_detail {
                return Err(ClusterError::new(
                    action(),
                    format!(
                        "{}\nbuild output:\n{output}",
                        detail.message.unwrap_or_default()
                    ),
                ));
            }
            output.push_str(step.stream.as_deref().unwrap_or_default());
        }
        docker.inspect_image(&self.tag).await.context(|| {
            format!(
                "{}: the build ended without the tag; output:\n{output}",
                action()
            )
        })?;
        Ok(())
    }
}

/// Appends one regular file to a build context.
fn append(
    tar: &mut tar::Builder<Vec<u8>>,
    path: &str,
    content: &[u8],
    mode: u32,
) -> std::io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(content.len() as u64);
    header.set_mode(mode);
    header.set_cksum();
    tar.append_data(&mut header, path, content)
}

/// The libraries `ldd` names for `binary`, dynamic loader included, as absolute paths.
/// A static binary has none.
async fn linked_libraries(binary: &Path) -> Result<Vec<PathBuf>> {
    let action = || format!("listing the libraries of {} with ldd", binary.display());
    let out = tokio::process::Command::new("ldd")
        .arg(binary)
        .output()
        .await
        .context(|| format!("{}: starting ldd (is it installed?)", action()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        let text = format!("{stdout}{stderr}");
        if text.contains("not a dynamic executable") || text.contains("statically linked") {
            return Ok(Vec::new());
        }
        return Err(ClusterError::new(action(), text.trim().to_string()));
    }
    Ok(parse_ldd(&stdout))
}

/// The absolute paths in `ldd` output: `libc.so.6 => /lib/.../libc.so.6 (0x...)` gives the
/// path after `=>`, `/lib64/ld-linux-x86-64.so.2 (0x...)` the loader itself; the vDSO has
/// no file and is skipped.
fn parse_ldd(output: &str) -> Vec<PathBuf> {
    let mut libs: Vec<PathBuf> = output
        .lines()
        .filter_map(|line| {
            let line = line.trim();
            let path = match line.split_once("=>") {
                Some((_, right)) => right.trim(),
                None => line,
            };
            let path = path.split_whitespace().next()?;
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect();
    libs.sort();
    libs.dedup();
    libs
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).context(|| format!("reading {} for an image", path.display()))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "node".into())
}

/// A Docker repository name component: lowercase letters, digits, `.`, `_`, `-`.
fn sanitize(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '.' | '_' | '-') => c,
            _ => '-',
        })
        .collect();
    let cleaned = cleaned.trim_matches(|c| matches!(c, '.' | '_' | '-'));
    if cleaned.is_empty() {
        "node".into()
    } else {
        cleaned.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldd_output_gives_libraries_and_loader_but_not_the_vdso() {
        let out = "\tlinux-vdso.so.1 (0x00007ffd)\n\
                   \tlibgcc_s.so.1 => /lib/x86_64-linux-gnu/libgcc_s.so.1 (0x00007f)\n\
                   \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n\
                   \t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n";
        assert_eq!(
            parse_ldd(out),
            vec![
                PathBuf::from("/lib/x86_64-linux-gnu/libc.so.6"),
                PathBuf::from("/lib/x86_64-linux-gnu/libgcc_s.so.1"),
                PathBuf::from("/lib64/ld-linux-x86-64.so.2"),
            ]
        );
    }

    #[test]
    fn names_become_valid_repository_names() {
        assert_eq!(sanitize("pbft-node"), "pbft-node");
        assert_eq!(sanitize("My Node+2"), "my-node-2");
        assert_eq!(sanitize("--"), "node");
    }

    #[test]
    fn a_single_binary_is_tagged_by_its_own_sha256() {
        let ctx = BuildContext::assembled("x", vec![("node".into(), b"abc".to_vec())]).unwrap();
        // sha256("abc") = ba7816bf8f01cfea...
        assert_eq!(ctx.tag, "traitor-x:ba7816bf8f01cfea");
    }
}
