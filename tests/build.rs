//! `VEER_BUILD=native` compiles the end-to-end tests for the dynamic module: tests that only make
//! sense for one build (the wasm VM's failure policy) are left out of the other build's test
//! binary rather than passing vacuously.

fn main() {
    println!("cargo::rerun-if-env-changed=VEER_BUILD");
    println!("cargo::rustc-check-cfg=cfg(veer_native)");
    if std::env::var("VEER_BUILD").as_deref() == Ok("native") {
        println!("cargo::rustc-cfg=veer_native");
    }
}
