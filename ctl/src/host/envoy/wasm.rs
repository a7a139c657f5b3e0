//! The filter's .wasm, checked before any config that loads it is written: Envoy reads the file
//! named in the ECDS resource when it creates the filter, so a missing file or one that is not a
//! WebAssembly module makes a running Envoy reject the update and a restarting one start on the
//! fallback config (issue 11.2). veerctl and Envoy share the ECDS directory, so they share the
//! filesystem the path is read from.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{CliError, Result};

/// The first 8 bytes of a WebAssembly binary module: `\0asm`, then version 1 (little endian).
const HEADER: [u8; 8] = *b"\0asm\x01\x00\x00\x00";

/// A `--wasm` path made absolute (Envoy would read a relative one from its own working
/// directory), once checked.
pub fn resolve(given: &Path) -> Result<PathBuf> {
    let path = std::path::absolute(given).map_err(|e| refused(given, &e.to_string()))?;
    check(&path)?;
    Ok(path)
}

/// Checks that `path` is an absolute path to a readable WebAssembly module (its magic bytes and
/// version 1); the error says nothing was written and what to pass instead.
pub fn check(path: &Path) -> Result<()> {
    if !path.is_absolute() {
        return Err(refused(
            path,
            "not an absolute path (Envoy would read it from its own working directory)",
        ));
    }
    let mut header = [0u8; 8];
    let read = std::fs::File::open(path).and_then(|mut f| {
        let mut n = 0;
        while n < header.len() {
            match f.read(&mut header[n..])? {
                0 => break,
                k => n += k,
            }
        }
        Ok(n)
    });
    match read {
        Err(e) => Err(refused(path, &format!("cannot read it: {e}"))),
        Ok(n) if n < HEADER.len() || header[..4] != HEADER[..4] => Err(refused(
            path,
            "not a WebAssembly module (it does not start with \\0asm)",
        )),
        Ok(_) if header != HEADER => Err(refused(
            path,
            "a WebAssembly binary of another version than 1, which Envoy's V8 does not load",
        )),
        Ok(_) => Ok(()),
    }
}

fn refused(path: &Path, why: &str) -> CliError {
    CliError::failed(format!(
        "the filter {} cannot be loaded by Envoy: {why}; nothing was written. Pass --wasm with \
         the path of the built filter on this host (target/veer.wasm after `make wasm`)",
        path.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(bytes: &[u8]) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), bytes).unwrap();
        f
    }

    #[test]
    fn a_wasm_module_passes_and_anything_else_is_named() {
        let module = file(b"\0asm\x01\x00\x00\x00\x01\x04\x01\x60\x00\x00");
        check(module.path()).unwrap();
        let cases: [(&[u8], &str); 4] = [
            (b"", "does not start with \\0asm"),
            (b"\0as", "does not start with \\0asm"),
            (b"{\"services\": []}", "does not start with \\0asm"),
            (b"\0asm\x02\x00\x00\x00", "another version than 1"),
        ];
        for (bytes, why) in cases {
            let f = file(bytes);
            let err = check(f.path()).unwrap_err();
            assert_eq!(err.exit_code(), 1);
            let msg = err.to_string();
            assert!(msg.contains(why), "{bytes:?}: {msg}");
            assert!(msg.contains("nothing was written"), "{msg}");
        }
        let err = check(Path::new("/does-not-exist.wasm")).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "the filter /does-not-exist.wasm cannot be loaded by Envoy: cannot read it: "
            ),
            "{err}"
        );
        let err = check(Path::new("veer.wasm")).unwrap_err();
        assert!(err.to_string().contains("not an absolute path"), "{err}");
    }

    #[test]
    fn a_relative_path_is_made_absolute_from_the_working_directory() {
        let module = file(&HEADER);
        let dir = module.path().parent().unwrap();
        let name = module.path().file_name().unwrap();
        let cwd = std::env::current_dir().unwrap();
        let relative = pathdiff(dir, &cwd).join(name);
        assert_eq!(resolve(&relative).unwrap(), cwd.join(&relative));
    }

    /// `to` relative to `from` (both absolute): as many `..` as `from` has components.
    fn pathdiff(to: &Path, from: &Path) -> PathBuf {
        let up = from.components().count() - 1;
        let mut p = PathBuf::new();
        for _ in 0..up {
            p.push("..");
        }
        p.join(to.strip_prefix("/").unwrap())
    }
}
