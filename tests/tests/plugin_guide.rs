//! `docs/plugin-guide.md` as a new plugin author follows it: for each language, its command
//! blocks run exactly as written in an empty folder outside this repository (`plugin new`, the
//! build, the plugin's own tests, `plugin check`, `plugin run`), the code it shows is the code
//! `plugin new` wrote, and the plugin then serves a real gateway started from the guide's
//! `gateway.toml`, fed by the guide's `curl`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use soda_gateway_tests::guide::{self, Block};
use soda_gateway_tests::{gateway_binary, FakeDownstream, LISTENING_PREFIX, SOON};
use tempfile::TempDir;

/// How long the gateway may take to start with an interpreter-sized plugin to compile (18 MB
/// for Python, with the debug build of the gateway).
const START_TIME: Duration = Duration::from_secs(300);

/// One language's walk through the guide.
struct Walk {
    /// The `test=` group of its blocks.
    group: &'static str,
    /// The plugin's name, which the guide's commands use.
    name: &'static str,
    /// The built component, relative to the folder the commands start in.
    wasm: &'static str,
}

/// The guide's blocks; panics when it has none for `group`.
fn blocks_of(group: &str) -> Vec<Block> {
    let text = std::fs::read_to_string(guide::path()).expect("the plugin guide");
    let blocks = guide::blocks(&text);
    assert!(
        blocks.iter().any(|block| block.group == group),
        "the guide has no block marked test={group}"
    );
    blocks
}

/// Runs `script` with bash in `dir`, with this build's `soda-gateway` first on `PATH`.
fn run_script(script: &str, dir: &Path, bin: &Path, cache: &Path) -> Output {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![bin.to_path_buf()];
    paths.extend(std::env::split_paths(&path));
    Command::new("bash")
        .arg("-c")
        .arg(format!("set -euxo pipefail\n{script}"))
        .current_dir(dir)
        .env("PATH", std::env::join_paths(paths).expect("a PATH"))
        .env("SODA_GATEWAY_CACHE_DIR", cache)
        // As on an author's machine: the plugin's own target folder and build settings.
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .env_remove("RUST_LOG")
        .output()
        .expect("bash runs")
}

fn show(output: &Output) -> String {
    let tail = |bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes);
        let start = text.len().saturating_sub(6000);
        text.get(start..).unwrap_or(&text).to_owned()
    };
    format!(
        "{}\n--- stdout (end) ---\n{}\n--- stderr (end) ---\n{}",
        output.status,
        tail(&output.stdout),
        tail(&output.stderr)
    )
}

/// A gateway started from a config file, killed on drop.
struct Served {
    child: Child,
    url: String,
}

impl Served {
    fn start(dir: &Path, cache: &Path) -> Served {
        let mut child = Command::new(gateway_binary())
            .args(["serve", "--config", "gateway.toml"])
            .current_dir(dir)
            .env("SODA_GATEWAY_CACHE_DIR", cache)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the gateway starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let line = rx
            .recv_timeout(START_TIME)
            .expect("the gateway's listening line");
        let url = line
            .strip_prefix(LISTENING_PREFIX)
            .unwrap_or_else(|| panic!("a listening line, got {line:?}"))
            .trim()
            .to_owned();
        Served { child, url }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Follows the guide for one language, from an empty folder to a message delivered.
async fn walk_through(walk: Walk) {
    let blocks = blocks_of(walk.group);
    let outside = TempDir::new().expect("a temporary folder");
    let (bin, cache, work) = (
        outside.path().join("bin"),
        outside.path().join("cache"),
        outside.path().join("work"),
    );
    for dir in [&bin, &work] {
        std::fs::create_dir_all(dir).expect("a folder");
    }
    std::os::unix::fs::symlink(gateway_binary(), bin.join("soda-gateway")).expect("a symlink");

    // The commands, as written.
    let script = guide::script(&blocks, walk.group);
    assert!(
        script.contains("soda-gateway plugin new"),
        "the {} walk starts from `plugin new`: {script}",
        walk.group
    );
    let ran = run_script(&script, &work, &bin, &cache);
    assert!(ran.status.success(), "the guide's commands: {}", show(&ran));
    let stdout = String::from_utf8_lossy(&ran.stdout);
    assert!(
        stdout.contains("result:    loads in this gateway")
            && stdout.contains(&format!("manifest:  {} 0.1.0", walk.name)),
        "plugin check passes and shows the manifest: {}",
        show(&ran)
    );
    assert!(
        stdout.contains("\"text\": \"New Soda incident: Missing customer ids in orders\""),
        "plugin run prints the plugin's message: {}",
        show(&ran)
    );

    // The code the guide shows is the code `plugin new` wrote.
    let folder = work.join(walk.name);
    for (file, excerpt) in guide::excerpts(&blocks, walk.group) {
        let written = std::fs::read_to_string(folder.join(file))
            .unwrap_or_else(|e| panic!("{file} in the new plugin: {e}"));
        assert!(
            written.contains(excerpt),
            "the guide shows a part of {file} that `plugin new` did not write:\n{excerpt}"
        );
    }

    // The guide's gateway.toml and curl, with this plugin, a free port and a fake downstream.
    let downstream = FakeDownstream::start().await;
    let toml = &guide::files(&blocks, "serve", "toml")[0].text;
    assert!(toml.contains("127.0.0.1:8080") && toml.contains("http://127.0.0.1:9000/hook"));
    let toml = toml
        .replace("my_alerts", walk.name)
        .replace("127.0.0.1:8080", "127.0.0.1:0")
        .replace("http://127.0.0.1:9000/hook", &downstream.url("/hook"));
    std::fs::write(work.join("gateway.toml"), toml).expect("gateway.toml");
    std::fs::create_dir_all(work.join("plugins")).expect("plugins/");
    std::fs::copy(
        work.join(walk.wasm),
        work.join(format!("plugins/{}.wasm", walk.name)),
    )
    .expect("the built plugin");
    let served = Served::start(&work, &cache);
    let curl = guide::script(&blocks, "serve").replace("http://127.0.0.1:8080", &served.url);
    let sent = run_script(&curl, &work, &bin, &cache);
    let answer = String::from_utf8_lossy(&sent.stdout);
    assert!(
        sent.status.success() && answer.starts_with("HTTP/1.1 200"),
        "the guide's curl: {}",
        show(&sent)
    );
    let requests = downstream.wait_for(1, SOON).await;
    let body: Value = serde_json::from_slice(&requests[0].body).expect("a JSON message");
    assert_eq!(
        body["text"], "Soda checks alerting: row count > 0",
        "{body}"
    );
    drop(served);
}

#[test]
fn the_guide_blocks_name_known_groups_and_each_template_readme_has_its_gateway_toml() {
    let text = std::fs::read_to_string(guide::path()).expect("the plugin guide");
    let blocks = guide::blocks(&text);
    for block in &blocks {
        assert!(
            ["rust", "python", "javascript", "serve"].contains(&block.group.as_str()),
            "unknown group: {block:?}"
        );
    }
    // plugin new's READMEs carry the same minimal gateway.toml.
    let toml = &guide::files(&blocks, "serve", "toml")[0].text;
    let templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("../gateway/templates");
    for language in ["rust", "python", "javascript"] {
        let readme = std::fs::read_to_string(templates.join(language).join("README.md"))
            .expect("a template README");
        let expected = toml.replace("my_alerts", "__NAME__");
        assert!(
            readme.contains(&expected),
            "{language}/README.md's gateway.toml differs from the guide's"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_guide_takes_a_new_rust_plugin_to_a_running_gateway() {
    walk_through(Walk {
        group: "rust",
        name: "my_alerts",
        wasm: "my_alerts/target/wasm32-wasip2/release/my_alerts.wasm",
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_guide_takes_a_new_python_plugin_to_a_running_gateway() {
    walk_through(Walk {
        group: "python",
        name: "my_alerts_py",
        wasm: "my_alerts_py/my_alerts_py.wasm",
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_guide_takes_a_new_javascript_plugin_to_a_running_gateway() {
    walk_through(Walk {
        group: "javascript",
        name: "my_alerts_js",
        wasm: "my_alerts_js/my_alerts_js.wasm",
    })
    .await;
}
