//! A hostile operator or LAN against real instances on DPDK virtual
//! devices (`--no-pci --no-huge --no-shconf`, a unique prefix each): a
//! second instance on a live prefix, a planted runtime folder.

mod instance;

use instance::*;
use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One port on `net_null`, one group alone on it (it becomes AVG and
/// sends a hello every 100 ms).
fn config(prefix: &str, priority: u8) -> String {
    format!(
        r#"{head}
[[port]]
name = "lan0"
device = "net_null0,no-rx=1"
address = "10.0.0.2/24"
[[group]]
port = "lan0"
id = 5
vip = "10.0.0.1"
priority = {priority}
hello_ms = 100
hold_ms = 400
"#,
        head = eal_header(prefix, 1),
    )
}

fn show_json(prefix: &str, view: &str) -> Result<Value, String> {
    let (st, out, err) = glbpd(&["show", view, "--json", "--prefix", prefix]);
    if !st.success() {
        return Err(err);
    }
    serde_json::from_str(&out).map_err(|e| format!("{e}: {out}"))
}

/// Polls `f` until it returns Some, for up to `secs` seconds.
fn poll<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn group5(prefix: &str) -> Value {
    let v = show_json(prefix, "detail").unwrap_or_else(|e| panic!("show: {e}"));
    v["groups"][0].clone()
}

fn hellos_out(prefix: &str) -> u64 {
    group5(prefix)["counters"]["hellos_out"]
        .as_u64()
        .expect("hellos_out")
}

/// Waits for `child` up to `secs`; kills it and panics when it does not
/// exit. Returns (exit code, stdout, stderr).
fn wait_child(mut child: Child, secs: u64, what: &str) -> (Option<i32>, String, String) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "{what} did not exit within {secs} s:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn spawn_glbpd(args: &[&str]) -> Child {
    Command::new(GLBPD)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn glbpd")
}

#[test]
fn a_second_instance_on_a_live_prefix_exits_2_and_touches_nothing() {
    let p = prefix("twice");
    let mut first = Instance::start(&p, &config(&p, 100));
    poll(10, "the first instance's status", || {
        show_json(&p, "brief").ok()
    });
    let dir = runtime_dir(&p);
    let lock_before = std::fs::read_to_string(dir.join("glbpd.lock")).expect("lock file");
    assert_eq!(lock_before.trim(), first.pid().to_string());

    let other = tempfile::tempdir().unwrap();
    let path = other.path().join("glbpd.toml");
    std::fs::write(&path, config(&p, 200)).unwrap();
    let second = spawn_glbpd(&["run", "-c", path.to_str().unwrap()]);
    let (code, _, err) = wait_child(second, 30, "the second instance");
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "another glbpd (pid {}) runs with this prefix",
            first.pid()
        )),
        "names the holder: {err}"
    );
    assert!(!err.contains("starting EAL"), "EAL must not start: {err}");

    // The first one is untouched: its folder, lock, socket and status.
    for f in ["glbpd.lock", "dpdk_telemetry.v2", "glbpd-status.json"] {
        assert!(dir.join(f).exists(), "{f} gone from {}", dir.display());
    }
    assert_eq!(
        std::fs::read_to_string(dir.join("glbpd.lock")).unwrap(),
        lock_before
    );
    // Still answering, with its own configuration (priority 100, not 200),
    // and still sending hellos.
    let h = hellos_out(&p);
    poll(5, "more hellos from the first instance", || {
        (hellos_out(&p) > h).then_some(())
    });
    assert_eq!(group5(&p)["priority"], 100);
    let (st, out, err) = glbpd(&["show", "brief", "--prefix", &p]);
    assert!(st.success() && out.contains("lan0"), "{out}{err}");

    first.stop_clean();
    assert!(!dir.exists(), "the holder removes its folder when it stops");
    let (st, _, err) = glbpd(&["show", "--prefix", &p]);
    assert_eq!(st.code(), Some(1));
    assert!(err.contains("no running glbpd"), "{err}");
}

#[test]
fn a_symlink_planted_as_the_runtime_folder_is_refused() {
    // The runtime folder must be a real folder: a symbolic link planted in
    // its place is refused, and nothing behind it is touched.
    let p = prefix("symlink");
    let target = tempfile::tempdir().unwrap();
    let canary = target.path().join("canary");
    std::fs::write(&canary, "still here").unwrap();
    let dir = runtime_dir(&p);
    std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(target.path(), &dir).unwrap();
    let cfgdir = tempfile::tempdir().unwrap();
    let path = cfgdir.path().join("glbpd.toml");
    std::fs::write(&path, config(&p, 100)).unwrap();
    let (code, _, err) = wait_child(
        spawn_glbpd(&["run", "-c", path.to_str().unwrap()]),
        30,
        "glbpd run",
    );
    let _ = std::fs::remove_file(&dir);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("is not a folder"), "{err}");
    assert!(!err.contains("starting EAL"), "{err}");
    assert_eq!(std::fs::read_to_string(&canary).unwrap(), "still here");
    assert!(!Path::new(&target.path().join("glbpd.lock")).exists());
}
