//! Records the commit and the DPDK version glbpd was built from, for
//! `glbpd --version`.
use std::process::Command;

fn main() {
    let rev = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=GLBPD_GIT_REV={rev}");
    // dpdk-ffi's build script reports the version pkg-config found.
    let dpdk = std::env::var("DEP_DPDK_VERSION").unwrap_or_else(|_| "unknown".to_string());
    println!("cargo:rustc-env=GLBPD_DPDK_VERSION={dpdk}");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
}
