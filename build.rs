//! The commit the binary was built from, for the report's run header (`AURAX_COMMIT`):
//! empty outside a git checkout.

fn main() {
    println!("cargo:rerun-if-env-changed=AURAX_COMMIT");
    // A build without the repository (a container's) is told the commit.
    if let Ok(commit) = std::env::var("AURAX_COMMIT") {
        println!("cargo:rustc-env=AURAX_COMMIT={commit}");
        return;
    }
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    println!("cargo:rustc-env=AURAX_COMMIT={commit}");
    // A new commit moves HEAD or the branch it names. A path that does not exist would
    // rerun this on every build: only those there are watched.
    for path in [".git/HEAD", ".git/refs/heads", ".git/packed-refs"] {
        if std::path::Path::new(path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
