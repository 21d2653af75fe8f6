// Records the git revision for `skew_exporter_build_info{revision}`. A build outside a git
// checkout (a crate tarball) says "unknown"; SKEW_EXPORTER_REVISION overrides both.
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=SKEW_EXPORTER_REVISION");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
    let revision = std::env::var("SKEW_EXPORTER_REVISION")
        .ok()
        .unwrap_or_else(|| {
            Command::new("git")
                .args(["rev-parse", "--short=12", "HEAD"])
                .output()
                .ok()
                .filter(|o| o.status.success())
                .and_then(|o| String::from_utf8(o.stdout).ok())
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "unknown".to_owned())
        });
    println!("cargo:rustc-env=SKEW_EXPORTER_REVISION={revision}");
}
