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
}

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
        Ok(Self {
            dir: dir.to_path_buf(),
            spec,
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
            return Ok(ImageSource::HostBin(PathBuf::from(path)));
        }
        if let Some(file) = &image.dockerfile {
            return Ok(ImageSource::Dockerfile(self.dir.join(file)));
        }
        Ok(ImageSource::Image(image.image.clone().unwrap_or_default()))
    }
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
    fn a_missing_target_names_the_file() {
        let err = Target::load(Path::new("/nonexistent")).unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent/target.toml"),
            "{err}"
        );
    }
}
