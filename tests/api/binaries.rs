//! The workspace's other binaries (`disposition-consumer`, `genesys-sim`): cargo names only this
//! package's binaries to its tests, so the others are found beside this test binary, where
//! `cargo build --bins` (run by `make test` before the tests) puts them.

use std::path::PathBuf;

/// The path of the workspace binary `name`, built by `cargo build --bins`.
pub(crate) fn workspace_bin(name: &str) -> PathBuf {
    let test_binary = std::env::current_exe().expect("the test binary's path");
    // target/<profile>/deps/api-… → target/<profile>/<name>
    let profile_dir = test_binary
        .parent()
        .and_then(std::path::Path::parent)
        .expect("the test binary lives in target/<profile>/deps");
    let path = profile_dir.join(name);
    assert!(
        path.exists(),
        "{} is not built: run `cargo build --bins` first (make test does)",
        path.display()
    );
    path
}
