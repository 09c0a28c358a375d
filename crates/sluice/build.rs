//! Build script of the `sluice` binary: packs its relative relocations (`-z pack-relative-relocs`,
//! DT_RELR) where the C library it is linked against can apply them.
//!
//! A position-independent executable carries one relocation for every pointer in its data: about
//! 42,000 in sluice, 1 MB of `.rela.dyn` that the dynamic loader reads at every start and that
//! stays mapped in the process afterwards. Packed, they take 16 kB. glibc applies packed
//! relocations from 2.36 on, and the linkers then make the binary require its
//! `GLIBC_ABI_DT_RELR` version, so the flag is only given when the `libc.so.6` the linker will
//! use defines that version: built on an older system, the binary still starts there.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=CC");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let native_glibc = var("CARGO_CFG_TARGET_OS") == "linux"
        && var("CARGO_CFG_TARGET_ENV") == "gnu"
        && var("TARGET") == var("HOST");
    if native_glibc && libc_applies_packed_relocations() {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// Whether the `libc.so.6` that the C compiler (rustc's linker driver) links against defines
/// `GLIBC_ABI_DT_RELR`. Any doubt (no compiler, no such file) answers no.
fn libc_applies_packed_relocations() -> bool {
    const VERSION: &[u8] = b"GLIBC_ABI_DT_RELR";
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());
    let Ok(out) = Command::new(cc).arg("-print-file-name=libc.so.6").output() else {
        return false;
    };
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    out.status.success()
        && path.is_absolute()
        && std::fs::read(&path).is_ok_and(|libc| libc.windows(VERSION.len()).any(|w| w == VERSION))
}
