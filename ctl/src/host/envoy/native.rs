//! The dynamic module (Veer native), checked before any config that loads it is written: its
//! name (`--module`), and each proxy's Envoy release against the ABI the module is built for. A
//! module for another release would make a running Envoy reject the update (the ABI version it
//! reports does not match), so veerctl refuses first, naming the proxy and what to do.

use std::io::Read;
use std::path::Path;

use crate::error::{CliError, Result};

/// The Envoy release whose dynamic-module ABI the module is built for (`filter/native/src/abi.rs`:
/// ABI `v0.2.0`, Envoy 1.40). Envoy keeps a module's ABI for one more release, so a module built
/// for 1.X runs on 1.X and 1.X+1.
pub const BUILT_FOR: Release = Release {
    major: 1,
    minor: 40,
};

/// The module `make native` builds (`target/native/libveer_native.so`).
pub const DEFAULT_MODULE: &str = "veer_native";

/// An Envoy release, `major.minor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Release {
    /// Major version (1).
    pub major: u32,
    /// Minor version (40).
    pub minor: u32,
}

impl std::fmt::Display for Release {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl Release {
    /// Whether a module built for `self` loads in an Envoy of release `proxy`.
    pub fn runs_on(self, proxy: Release) -> bool {
        self.major == proxy.major && (proxy.minor == self.minor || proxy.minor == self.minor + 1)
    }
}

/// The release in Envoy's `/server_info` answer: its `version` is
/// `<commit>/<major>.<minor>.<patch>[-dev]/<status>/<build type>/<ssl>`.
pub fn release_of(server_info: &str) -> std::result::Result<Release, String> {
    let doc: serde_json::Value =
        serde_json::from_str(server_info).map_err(|e| format!("not JSON: {e}"))?;
    let version = doc["version"].as_str().ok_or("no `version` field")?;
    let semver = version
        .split('/')
        .nth(1)
        .ok_or_else(|| format!("version {version:?} is not <commit>/<release>/..."))?;
    let mut parts = semver.split(['.', '-']);
    let mut number = || parts.next().and_then(|p| p.parse::<u32>().ok());
    match (number(), number()) {
        (Some(major), Some(minor)) => Ok(Release { major, minor }),
        _ => Err(format!("version {version:?} has no release number")),
    }
}

/// Refuses unless the module loads in the proxy at `url` (Envoy `proxy`).
pub fn check_release(url: &str, proxy: Release) -> Result<()> {
    if BUILT_FOR.runs_on(proxy) {
        return Ok(());
    }
    Err(CliError::failed(format!(
        "{url} runs Envoy {proxy}, but Veer's dynamic module is built for the ABI of Envoy {BUILT_FOR} \
         (it loads in Envoy {BUILT_FOR} and {}.{}); nothing was written. Run that Envoy release, \
         or use the proxy-wasm build (`--wasm PATH`), which loads in any Envoy with V8",
        BUILT_FOR.major,
        BUILT_FOR.minor + 1
    )))
}

/// The module name for `--module NAME_OR_PATH`: a name Envoy resolves in its
/// `ENVOY_DYNAMIC_MODULES_SEARCH_PATH`, or (when it names something on this host) the directory
/// that holds `libveer_native.so` or the `lib<name>.so` file itself, checked to be a shared
/// library. veerctl writes the name only: Envoy finds the file through its own search path.
pub fn resolve(given: &Path) -> Result<String> {
    if given.is_dir() {
        let file = given.join(format!("lib{DEFAULT_MODULE}.so"));
        check_library(&file)?;
        return Ok(DEFAULT_MODULE.to_owned());
    }
    let text = given.to_string_lossy();
    if given.exists() || text.contains('/') {
        let name = given
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("lib"))
            .and_then(|n| n.strip_suffix(".so"))
            .ok_or_else(|| refused(&text, "a module file is named lib<name>.so"))?;
        check_library(given)?;
        return checked_name(name);
    }
    checked_name(&text)
}

/// The directory Envoy must search for the module `--module given` names, when it names one on
/// this host (the directory itself, or the file's): what `ENVOY_DYNAMIC_MODULES_SEARCH_PATH` must
/// hold. `None` for a bare name, which Envoy's own search path resolves.
pub fn search_dir(given: &Path) -> Option<std::path::PathBuf> {
    let found = if given.is_dir() {
        given
    } else if given.is_file() {
        match given.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        }
    } else {
        return None;
    };
    std::path::absolute(found).ok()
}

/// A module name Envoy can turn into `lib<name>.so`: letters, digits, `_` and `-`.
fn checked_name(name: &str) -> Result<String> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(name.to_owned())
    } else {
        Err(refused(
            name,
            "not a module name (letters, digits, `_` and `-`, as in veer_native)",
        ))
    }
}

/// Checks that `path` is a readable ELF file (a shared library starts with `\x7fELF`).
fn check_library(path: &Path) -> Result<()> {
    let mut magic = [0u8; 4];
    let shown = path.display().to_string();
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .map_err(|e| refused(&shown, &format!("cannot read it: {e}")))?;
    if magic != *b"\x7fELF" {
        return Err(refused(
            &shown,
            "not a shared library (it does not start with \\x7fELF)",
        ));
    }
    Ok(())
}

fn refused(given: &str, why: &str) -> CliError {
    CliError::failed(format!(
        "--module {given}: {why}; nothing was written. Pass --module with the module's name \
         (veer_native), or the directory holding libveer_native.so (target/native after `make \
         native`), which must be in the proxy's ENVOY_DYNAMIC_MODULES_SEARCH_PATH"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(version: &str) -> String {
        serde_json::json!({"version": version, "state": "LIVE"}).to_string()
    }

    #[test]
    fn the_release_is_read_from_server_info() {
        let r = release_of(&info("d9d0fd0b/1.40.0/Clean/RELEASE/BoringSSL")).unwrap();
        assert_eq!(
            r,
            Release {
                major: 1,
                minor: 40
            }
        );
        let r = release_of(&info("abc/1.41.2-dev/Modified/DEBUG/BoringSSL")).unwrap();
        assert_eq!(
            r,
            Release {
                major: 1,
                minor: 41
            }
        );
        for bad in [
            info("1.40.0"),
            info("abc/x.y/Clean"),
            "{}".into(),
            "<html>".into(),
        ] {
            assert!(release_of(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_module_runs_on_its_release_and_the_next_only() {
        let on = |minor| BUILT_FOR.runs_on(Release { major: 1, minor });
        assert!(on(40) && on(41));
        assert!(!on(39) && !on(42));
        assert!(!BUILT_FOR.runs_on(Release {
            major: 2,
            minor: 40
        }));
        let err = check_release(
            "http://p",
            Release {
                major: 1,
                minor: 39,
            },
        )
        .unwrap_err();
        assert_eq!(err.exit_code(), 1);
        assert_eq!(
            err.to_string(),
            "http://p runs Envoy 1.39, but Veer's dynamic module is built for the ABI of Envoy 1.40 \
             (it loads in Envoy 1.40 and 1.41); nothing was written. Run that Envoy release, or \
             use the proxy-wasm build (`--wasm PATH`), which loads in any Envoy with V8"
        );
    }

    #[test]
    fn a_module_is_given_by_name_directory_or_file() {
        assert_eq!(resolve(Path::new("veer_native")).unwrap(), "veer_native");
        let dir = tempfile::tempdir().unwrap();
        let err = resolve(dir.path()).unwrap_err().to_string();
        assert!(err.contains("libveer_native.so: cannot read it"), "{err}");
        let lib = dir.path().join("libveer_native.so");
        std::fs::write(&lib, b"\x7fELF\x02\x01\x01").unwrap();
        assert_eq!(resolve(dir.path()).unwrap(), "veer_native");
        assert_eq!(resolve(&lib).unwrap(), "veer_native");
        let text = dir.path().join("libother.so");
        std::fs::write(&text, b"not elf").unwrap();
        let err = resolve(&text).unwrap_err().to_string();
        assert!(err.contains("not a shared library"), "{err}");
        assert!(err.contains("nothing was written"), "{err}");
        let err = resolve(Path::new("veer native")).unwrap_err().to_string();
        assert!(err.contains("not a module name"), "{err}");
        let err = resolve(&dir.path().join("veer.wasm"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("lib<name>.so"), "{err}");
    }
}
