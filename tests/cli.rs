//! `glbpd check`, `glbpd run` with bad configs, and `--version`: no DPDK
//! is started for any of these.

mod instance;

use instance::glbpd;

fn check_text(text: &str) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, text).unwrap();
    let (st, out, err) = glbpd(&["check", "-c", path.to_str().unwrap()]);
    (
        st.code().unwrap_or(-1),
        out,
        err.replace(path.to_str().unwrap(), "FILE"),
    )
}

const PORT: &str = "[[port]]\nname = \"lan0\"\ndevice = \"net_null0\"\naddress = \"10.0.0.2/24\"\n";

#[test]
fn shipped_examples_are_valid() {
    // server.toml pins lcores 1-3, which a small machine does not have:
    // `--portable` skips the checks against this machine.
    for (f, args) in [
        ("config/virtual.toml", &["check"][..]),
        ("config/server.toml", &["check", "--portable"][..]),
        ("config/trunk.toml", &["check", "--portable"][..]),
    ] {
        let path = format!("{}/{f}", env!("CARGO_MANIFEST_DIR"));
        let mut args = args.to_vec();
        args.extend(["-c", &path]);
        let (st, out, err) = glbpd(&args);
        assert!(st.success(), "{f}: {out}{err}");
        assert!(out.contains(": ok ("), "{out}");
    }
}

#[test]
fn wrong_type_names_file_line_column_and_key() {
    let (code, _, err) = check_text(&format!("[dataplane]\nworkers = \"two\"\n{PORT}"));
    assert_eq!(code, 2, "{err}");
    assert_eq!(
        err.trim(),
        "error: FILE:2:11: dataplane.workers: invalid type: string \"two\", expected u16"
    );
}

#[test]
fn unknown_key_is_rejected_with_what_is_accepted() {
    let (code, _, err) = check_text(&format!("{PORT}speed = 10\n"));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.starts_with("error: FILE:5:1: port[0].speed: unknown field `speed`, expected one of"),
        "{err}"
    );
    assert!(err.contains("`address`"), "{err}");
}

#[test]
fn bad_enum_value_lists_the_choices() {
    let (code, _, err) = check_text(&format!("[dataplane]\nidle = \"spin\"\n{PORT}"));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(
            "FILE:2:8: dataplane.idle: unknown variant `spin`, expected `poll` or `adaptive`"
        ),
        "{err}"
    );
}

#[test]
fn semantic_errors_are_located() {
    let cases = [
        (
            format!("{PORT}[[group]]\nport = \"lan0\"\nid = 1\nhello_ms = 3000\nhold_ms = 1000\n"),
            "FILE:9:11: group[0].hold_ms: 1000 must be greater than hello_ms (3000) and at most 180000",
        ),
        (format!("{PORT}[[group]]\nport = \"lan9\"\nid = 1\n"), "FILE:6:8: group[0].port: no interface named \"lan9\" (known: lan0)"),
        (format!("{PORT}[[group]]\nport = \"lan0\"\nid = 1024\n"), "FILE:7:6: group[0].id: 1024 is not in 0..=1023"),
        (
            format!("{PORT}[[group]]\nport = \"lan0\"\nid = 3\n[[group]]\nport = \"lan0\"\nid = 3\n"),
            "FILE:10:6: group[1].id: group 3 is configured twice on port lan0",
        ),
        (
            format!("{PORT}[[group]]\nport = \"lan0\"\nid = 3\nredirect_s = 600\ntimeout_s = 500\n"),
            "FILE:9:13: group[0].timeout_s: 500 must be greater than redirect_s (600) and at most 64800",
        ),
        (
            format!("{PORT}[[group]]\nport = \"lan0\"\nid = 3\nweighting = {{ max = 100, lower = 90, upper = 80 }}\n"),
            "FILE:8:13: group[0].weighting: thresholds must satisfy lower (90) <= upper (80) <= max (100)",
        ),
        (
            format!("{PORT}[[route]]\nprefix = \"0.0.0.0/0\"\nvia = \"172.16.0.1\"\n"),
            "FILE:7:7: route[0].via: next hop 172.16.0.1 is not on the subnet of any interface",
        ),
        (
            "[[port]]\nname = \"lan0\"\ndevice = \"net_null0\"\naddress = \"10.0.0.2/33\"\n".to_string(),
            "FILE:4:11: port[0].address: prefix length 33 is not in 0..=32",
        ),
        (String::new(), "FILE: port: at least one [[port]] is required"),
    ];
    for (text, want) in cases {
        let (code, _, err) = check_text(&text);
        assert_eq!(code, 2, "{text}\n{err}");
        assert_eq!(err.trim(), format!("error: {want}"), "for config:\n{text}");
    }
}

#[test]
fn syntax_error_is_located() {
    let (code, _, err) = check_text("[dataplane\nworkers = 1\n");
    assert_eq!(code, 2, "{err}");
    assert!(
        err.starts_with("error: FILE:1:11: TOML syntax error"),
        "{err}"
    );
}

#[test]
fn run_refuses_an_invalid_config_before_starting_dpdk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, format!("[dataplane]\nworkers = 0\n{PORT}")).unwrap();
    let (st, _, err) = glbpd(&["run", "-c", path.to_str().unwrap()]);
    assert_eq!(st.code(), Some(2), "{err}");
    assert!(
        err.contains(":2:11: dataplane.workers: 0 is not in 1..=64"),
        "{err}"
    );
    assert!(!err.contains("EAL"), "DPDK must not start: {err}");
}

#[test]
fn missing_file_and_bad_arguments() {
    let (st, _, err) = glbpd(&["check", "-c", "/nonexistent/glbpd.toml"]);
    assert_eq!(st.code(), Some(2));
    assert!(
        err.contains("/nonexistent/glbpd.toml: cannot read:"),
        "{err}"
    );
    let (st, _, err) = glbpd(&["run"]);
    assert_eq!(
        st.code(),
        Some(2),
        "clap reports usage errors with status 2"
    );
    assert!(err.contains("--config <FILE>"), "{err}");
}

#[test]
fn version_names_the_dpdk_it_was_built_against() {
    let (st, out, _) = glbpd(&["--version"]);
    assert!(st.success());
    assert!(
        out.starts_with(&format!("glbpd {}", env!("CARGO_PKG_VERSION"))),
        "{out}"
    );
    assert!(out.contains("built against DPDK 2"), "{out}");
}

/// `glbpd check [--portable]` on `text`: (exit code, stderr with the path
/// replaced by FILE).
fn check_with(extra: &[&str], text: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, text).unwrap();
    let mut args = vec!["check"];
    args.extend(extra);
    args.extend(["-c", path.to_str().unwrap()]);
    let (st, out, err) = glbpd(&args);
    (
        st.code().unwrap_or(-1),
        format!("{out}{err}").replace(path.to_str().unwrap(), "FILE"),
    )
}

fn group(extra: &str) -> String {
    format!("{PORT}[[group]]\nport = \"lan0\"\nid = 1\n{extra}")
}

#[test]
fn hostile_values_are_refused_with_file_line_and_key() {
    let long = "a".repeat(5000);
    let cases: Vec<(String, &str)> = vec![
        // Virtual IPs the port cannot own.
        (group("vip = \"10.0.1.1\"\n"), "FILE:8:7: group[0].vip: virtual IP 10.0.1.1 is not on the subnet 10.0.0.0/24"),
        (group("vip = \"10.0.0.2\"\n"), "FILE:8:7: group[0].vip: virtual IP 10.0.0.2 is port lan0's own address"),
        (group("vip = \"10.0.0.0\"\n"), "FILE:8:7: group[0].vip: virtual IP 10.0.0.0 is the network address of 10.0.0.0/24"),
        (group("vip = \"10.0.0.255\"\n"), "FILE:8:7: group[0].vip: virtual IP 10.0.0.255 is the broadcast address of 10.0.0.0/24"),
        (group("vip = \"224.0.0.102\"\n"), "FILE:8:7: group[0].vip: virtual IP 224.0.0.102 is not a unicast address"),
        // Routes via ourselves or nobody, prefixes with host bits.
        (
            format!("{PORT}[[route]]\nprefix = \"0.0.0.0/0\"\nvia = \"10.0.0.2\"\n"),
            "FILE:7:7: route[0].via: next hop 10.0.0.2 is port lan0's own address",
        ),
        (
            group("vip = \"10.0.0.1\"\n[[route]]\nprefix = \"0.0.0.0/0\"\nvia = \"10.0.0.1\"\n"),
            "FILE:11:7: route[0].via: next hop 10.0.0.1 is the virtual IP of group 1 on lan0",
        ),
        (
            format!("{PORT}[[route]]\nprefix = \"0.0.0.0/0\"\nvia = \"10.0.0.255\"\n"),
            "FILE:7:7: route[0].via: next hop 10.0.0.255 is the broadcast address of 10.0.0.0/24",
        ),
        (
            format!("{PORT}[[route]]\nprefix = \"10.1.2.3/8\"\nvia = \"10.0.0.1\"\n"),
            "FILE:6:10: route[0].prefix: 10.1.2.3/8 has host bits set: did you mean 10.0.0.0/8?",
        ),
        // Static neighbours off the subnet or on our own address.
        (
            format!("{PORT}[[neighbor]]\nport = \"lan0\"\nip = \"10.9.0.1\"\nmac = \"02:00:00:00:00:09\"\n"),
            "FILE:7:6: neighbor[0].ip: neighbour 10.9.0.1 is not on the subnet 10.0.0.0/24 of port lan0",
        ),
        (
            format!("{PORT}[[neighbor]]\nport = \"lan0\"\nip = \"10.0.0.2\"\nmac = \"02:00:00:00:00:09\"\n"),
            "FILE:7:6: neighbor[0].ip: neighbour 10.0.0.2 is port lan0's own address",
        ),
        // A port MAC that is a GLBP virtual MAC; two ports in one subnet.
        (
            format!("{PORT}mac = \"00:07:b4:00:01:02\"\n"),
            "FILE:5:7: port[0].mac: 00:07:b4:00:01:02 is the GLBP virtual MAC of group 1 forwarder 2",
        ),
        (
            format!("{PORT}[[port]]\nname = \"lan1\"\ndevice = \"net_null1\"\naddress = \"10.0.0.3/16\"\n"),
            "FILE:8:11: port[1].address: 10.0.0.3/16 overlaps port lan0's subnet 10.0.0.2/24: each interface needs a subnet of its own",
        ),
        // Key chains with a key id twice or an empty key.
        (
            group("authentication = { md5_key_chain = [{ id = 1, key = \"a\" }, { id = 1, key = \"b\" }] }\n"),
            "FILE:8:67: group[0].authentication.md5_key_chain[1].id: key id 1 is used twice",
        ),
        (
            group("authentication = { md5_key_chain = [{ id = 1, key = \"\" }] }\n"),
            "FILE:8:53: group[0].authentication.md5_key_chain[0].key: key must be 1..=100 bytes",
        ),
        // What used to pass check and fail only once EAL had started.
        (
            format!("[eal]\nlcores = \"0-9999\"\n{PORT}"),
            "FILE:2:10: eal.lcores: lcore 9999 is not below RTE_MAX_LCORE (128) of this DPDK build",
        ),
        (
            format!("[eal]\nlcores = \"0-1,x\"\n{PORT}"),
            "FILE:2:10: eal.lcores: core list \"0-1,x\": \"x\" is not a number",
        ),
        (
            format!("[eal]\nargs = [\"-l\", \"0-200\"]\n{PORT}"),
            "FILE:2:15: eal.args[1]: lcore 200 is not below RTE_MAX_LCORE (128) of this DPDK build",
        ),
        (
            format!("[dataplane]\nexception_ring = 2147483648\n{PORT}"),
            "FILE:2:18: dataplane.exception_ring: 2147483648 must be a power of two in 64..=65536",
        ),
        (
            format!("[dataplane]\nmbufs = 4294967295\n{PORT}"),
            "FILE:2:9: dataplane.mbufs: 4294967295 is not in 1023..=16777215",
        ),
        (
            "[[port]]\nname = \"lan0\"\ndevice = \"net_null0\\u0000x\"\naddress = \"10.0.0.2/24\"\n".to_string(),
            "FILE:3:10: port[0].device: \"net_null0\\0x\" contains a control character",
        ),
        (
            format!("[eal]\nfile_prefix = \"{long}\"\n{PORT}"),
            "FILE:2:15: eal.file_prefix: \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"... (5000 characters) is not a plain name: 1..=64 characters of [A-Za-z0-9_-]",
        ),
    ];
    for (text, want) in &cases {
        let (code, err) = check_with(&[], text);
        assert_eq!(code, 2, "{text}\n{err}");
        assert_eq!(err.trim(), format!("error: {want}"), "for config:\n{text}");
    }
}

#[test]
fn more_workers_than_lcores_is_refused_on_any_host() {
    let text = format!("[eal]\nlcores = \"0-1\"\n[dataplane]\nworkers = 4\n{PORT}");
    let (code, err) = check_with(&["--portable"], &text);
    assert_eq!(code, 2, "{err}");
    assert_eq!(
        err.trim(),
        "error: FILE:2:10: eal.lcores: 2 lcore(s) cannot run the control lcore and \
         dataplane.workers = 4: give at least 5"
    );
    // Floated over the CPUs there are, the same lcores are fine.
    let ok = format!("[eal]\nlcores = \"(0-4)@(0)\"\n[dataplane]\nworkers = 4\n{PORT}");
    let (code, out) = check_with(&["--portable"], &ok);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn lcores_this_machine_lacks_are_refused_unless_portable() {
    let allowed = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)).unwrap();
    let Some(missing) = (1..128).find(|c| !allowed.is_set(*c).unwrap_or(false)) else {
        return; // a machine with every CPU DPDK can address
    };
    let text = format!("[eal]\nlcores = \"0,{missing}\"\n{PORT}");
    let (code, err) = check_with(&[], &text);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.starts_with(&format!(
            "error: FILE:2:10: eal.lcores: lcore (= CPU) {missing} is not a CPU this machine lets glbpd run on"
        )),
        "{err}"
    );
    let (code, out) = check_with(&["--portable"], &text);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn prefixes_must_be_plain_names() {
    let long = "a".repeat(65);
    for p in ["..", ".", "a/b", long.as_str(), "x y", ""] {
        let (code, err) = check_with(&[], &format!("[eal]\nfile_prefix = \"{p}\"\n{PORT}"));
        assert_eq!(code, 2, "{p:?}: {err}");
        assert!(
            err.starts_with("error: FILE:2:15: eal.file_prefix: ")
                && err.contains("is not a plain name: 1..=64 characters of [A-Za-z0-9_-]"),
            "{p:?}: {err}"
        );
    }
    // The longest plain name is fine.
    let ok = "a".repeat(64);
    let (code, out) = check_with(&[], &format!("[eal]\nfile_prefix = \"{ok}\"\n{PORT}"));
    assert_eq!(code, 0, "{out}");
}

#[test]
fn show_and_reload_refuse_a_prefix_that_is_a_path() {
    for cmd in [&["show"][..], &["show", "brief"], &["reload"]] {
        for p in ["../../tmp/x", "..", "a/b", ""] {
            let mut args = cmd.to_vec();
            args.extend(["--prefix", p]);
            let (st, out, err) = glbpd(&args);
            assert_eq!(st.code(), Some(2), "{args:?}: {out}{err}");
            assert!(
                err.contains("is not a plain name") && err.contains("--prefix"),
                "{args:?}: {err}"
            );
            assert!(out.is_empty(), "{args:?}: {out}");
        }
    }
}

/// A status document written by someone else than glbpd: `show` prints
/// its strings with control characters escaped, and only while something
/// holds the prefix's lock.
#[test]
fn show_escapes_control_characters_from_the_status_document() {
    use nix::fcntl::{Flock, FlockArg};
    let p = instance::prefix("escape");
    let dir = instance::runtime_dir(&p);
    struct Cleanup(std::path::PathBuf);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    std::fs::create_dir_all(&dir).unwrap();
    let _cleanup = Cleanup(dir.clone());
    let esc = "\u{1b}[2J";
    let doc = serde_json::json!({
        "pid": std::process::id(),
        "brief": [{"interface": format!("lan{esc}0"), "group": 1, "fwd": "-", "priority": 100,
                   "state": "Active", "address": "10.0.0.1", "active_router": "local",
                   "standby_router": "\u{1b}]0;title\u{7}"}],
        "groups": [{"port": "lan0", "group": 1, "text": format!("lan0 - Group 1{esc}\n  State is Active\n"),
                    "counters": {"hellos_in": 1}}],
        "stats": {"total": {"drops": {format!("x{esc}"): 1}}},
        "ports": [{"name": format!("lan{esc}0"), "link_up": true}],
    });
    std::fs::write(dir.join("glbpd-status.json"), doc.to_string()).unwrap();
    let lock = std::fs::File::create(dir.join("glbpd.lock")).unwrap();
    let held = Flock::lock(lock, FlockArg::LockExclusiveNonblock).unwrap();

    for view in ["brief", "detail", "stats"] {
        let (st, out, err) = glbpd(&["show", view, "--prefix", &p]);
        assert!(st.success(), "{view}: {err}");
        assert!(
            !out.contains('\u{1b}') && !out.contains('\u{7}'),
            "{view} printed a control character: {out:?}"
        );
        assert!(out.contains("\\x1b[2J"), "{view}: {out}");
        assert!(out.contains('\n'), "newlines stay: {out:?}");
    }
    let (_, out, _) = glbpd(&["show", "brief", "--prefix", &p]);
    assert!(out.contains("\\x1b]0;title\\x07"), "{out}");
    let (st, out, _) = glbpd(&["show", "brief", "--json", "--prefix", &p]);
    assert!(
        st.success() && !out.contains('\u{1b}') && out.contains("\\u001b[2J"),
        "{out}"
    );

    // Nothing holds the lock: a stale document, whatever PID it names.
    drop(held);
    let (st, out, err) = glbpd(&["show", "brief", "--prefix", &p]);
    assert_eq!(st.code(), Some(1), "{out}");
    assert!(err.contains("no running glbpd"), "{err}");
}
