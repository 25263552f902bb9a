//! Loading a target folder: its `target.toml`, validated, and where its node program comes from.

use crate::exit::Failure;
use std::path::{Path, PathBuf};
use traitor_cluster::ImageSource;
use traitor_model::target::TargetSpec;

/// A target as found on disk.
#[derive(Clone, Debug)]
pub struct Target {
    pub dir: PathBuf,
    pub spec: TargetSpec,
    /// `[[node.files]]` as (path in the node's data folder, template text).
    pub files: Vec<(String, String)>,
}

/// The largest template file read (a configuration file, not data).
const TEMPLATE_LIMIT: u64 = 1 << 20;

impl Target {
    /// Reads and validates `<dir>/target.toml`.
    pub fn load(dir: &Path) -> Result<Self, Failure> {
        let path = dir.join("target.toml");
        let text = std::fs::read_to_string(&path).map_err(|e| {
            Failure::usage(format!(
                "{}: cannot read the target ({e}); --target takes a folder with target.toml",
                path.display()
            ))
        })?;
        let spec: TargetSpec = toml::from_str(&text)
            .map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?;
        spec.validate()
            .map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?;
        if let Some(bin) = &spec.image.host_bin {
            check_host_bin(&path, &dir.join(bin))?;
        }
        let files = spec
            .node
            .files
            .iter()
            .map(|file| Ok((file.path.clone(), read_template(dir, &file.template)?)))
            .collect::<Result<_, Failure>>()?;
        Ok(Self {
            dir: dir.to_path_buf(),
            spec,
            files,
        })
    }

    /// Resolves `[image]` into what a backend builds or runs.
    pub fn image_source(&self) -> Result<ImageSource, Failure> {
        let image = &self.spec.image;
        if let Some(bin) = &image.cargo_bin {
            let workspace = workspace_root(&self.dir).ok_or_else(|| {
                Failure::usage(format!(
                    "{}: cargo_bin = {bin:?} needs the target inside a Cargo workspace, and none was found above it",
                    self.dir.display()
                ))
            })?;
            return Ok(ImageSource::CargoBin {
                bin: bin.clone(),
                workspace,
            });
        }
        if let Some(path) = &image.host_bin {
            // Relative to the target folder; an absolute path stays as it is.
            let path = self.dir.join(path);
            return Ok(ImageSource::HostBin(
                std::path::absolute(&path).unwrap_or(path),
            ));
        }
        if let Some(file) = &image.dockerfile {
            return Ok(ImageSource::Dockerfile(self.dir.join(file)));
        }
        Ok(ImageSource::Image(image.image.clone().unwrap_or_default()))
    }
}

/// `[image] host_bin` must be an executable file (relative to the target folder).
fn check_host_bin(toml: &Path, bin: &Path) -> Result<(), Failure> {
    use std::os::unix::fs::PermissionsExt;
    let executable = std::fs::metadata(bin)
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0);
    if executable {
        Ok(())
    } else {
        Err(Failure::usage(format!(
            "{}: [image] host_bin = {}: not an executable file (install the program, or give \
             its path; a relative path is relative to the target folder)",
            toml.display(),
            bin.display()
        )))
    }
}

/// A `[[node.files]]` template: a regular file of at most [`TEMPLATE_LIMIT`] bytes.
fn read_template(dir: &Path, name: &str) -> Result<String, Failure> {
    let path = dir.join(name);
    let bad = |why: String| {
        Failure::usage(format!(
            "{}: [[node.files]] template = {name:?}: {why}",
            dir.join("target.toml").display()
        ))
    };
    let meta = std::fs::metadata(&path).map_err(|e| bad(format!("{e}")))?;
    if !meta.is_file() || meta.len() > TEMPLATE_LIMIT {
        return Err(bad(format!(
            "must be a regular file of at most {TEMPLATE_LIMIT} bytes beside target.toml"
        )));
    }
    std::fs::read_to_string(&path).map_err(|e| bad(format!("{e}")))
}

/// The nearest folder at or above `start` whose Cargo.toml has a `[workspace]` table.
fn workspace_root(start: &Path) -> Option<PathBuf> {
    let start = start.canonicalize().ok()?;
    start
        .ancestors()
        .find(|dir| {
            std::fs::read_to_string(dir.join("Cargo.toml"))
                .is_ok_and(|text| text.lines().any(|l| l.trim() == "[workspace]"))
        })
        .map(Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_targets_load() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for name in ["pbft", "generals"] {
            let target = Target::load(&root.join("targets").join(name)).unwrap();
            assert!(matches!(
                target.image_source().unwrap(),
                ImageSource::CargoBin { .. }
            ));
        }
    }

    #[test]
    fn a_host_bin_that_is_not_executable_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let toml = "name = \"t\"\nkind = \"cft\"\nn = 3\n[image]\nhost_bin = \"no-such-node\"\n\
                    [node]\nargs = []\npeer_port = 1\napi_port = 2\nframing = \"stream\"\n\
                    [client]\nprotocol = \"traitor-http\"\nmodels = [\"kv\"]\n";
        std::fs::write(dir.path().join("target.toml"), toml).unwrap();
        let err = Target::load(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("host_bin") && err.contains("no-such-node"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_target_names_the_file() {
        let err = Target::load(Path::new("/nonexistent")).unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent/target.toml"),
            "{err}"
        );
    }
}
