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
    for f in ["config/virtual.toml", "config/server.toml"] {
        let path = format!("{}/{f}", env!("CARGO_MANIFEST_DIR"));
        let (st, out, err) = glbpd(&["check", "-c", &path]);
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
        (format!("{PORT}[[group]]\nport = \"lan9\"\nid = 1\n"), "FILE:6:8: group[0].port: no port named \"lan9\" (known: lan0)"),
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
            "FILE:7:7: route[0].via: next hop 172.16.0.1 is not on the subnet of any port",
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
