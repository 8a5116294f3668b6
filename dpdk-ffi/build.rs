//! Generates DPDK bindings at build time against `pkg-config libdpdk`.
//!
//! - Full `pkg-config --cflags` output goes to both bindgen and the C
//!   compiler (it carries `-include rte_config.h -march=...`, which the
//!   `pkg-config` crate would drop).
//! - `static inline` fast-path functions get C wrappers from bindgen's
//!   `wrap_static_fns`; thread-locals and macros go through `shim.c`.
//! - Missing prerequisites fail the build with one message naming the
//!   Debian packages to install.

use std::env;
use std::path::PathBuf;
use std::process::Command;

const MIN_VERSION: &str = "22.11";
const PACKAGES: &str = "apt-get install -y libdpdk-dev clang libclang-dev pkg-config";

fn fail(what: &str) -> ! {
    eprintln!();
    eprintln!("error: dpdk-ffi cannot be built: {what}");
    eprintln!("       install the prerequisites (Debian 12): {PACKAGES}");
    eprintln!();
    std::process::exit(1);
}

fn pkg_config(args: &[&str]) -> String {
    let out = match Command::new("pkg-config").args(args).output() {
        Ok(out) => out,
        Err(e) => fail(&format!("pkg-config could not be run ({e})")),
    };
    if !out.status.success() {
        fail(&format!(
            "`pkg-config {}` failed: {}libdpdk >= {MIN_VERSION} is required",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn split_flags(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

fn main() {
    println!("cargo:rerun-if-changed=wrapper.h");
    println!("cargo:rerun-if-changed=shim.h");
    println!("cargo:rerun-if-changed=shim.c");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");

    pkg_config(&["--atleast-version", MIN_VERSION, "libdpdk"]);
    let version = pkg_config(&["--modversion", "libdpdk"]);
    let cflags = split_flags(&pkg_config(&["--cflags", "libdpdk"]));
    let libs = split_flags(&pkg_config(&["--libs", "libdpdk"]));
    println!("cargo:version={version}");

    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let static_fns = out.join("static_fns");

    let builder = bindgen::Builder::default()
        .header(manifest.join("wrapper.h").to_string_lossy())
        .clang_args(&cflags)
        .clang_arg(format!("-I{}", manifest.display()))
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .wrap_static_fns(true)
        .wrap_static_fns_path(&static_fns)
        .allowlist_function("rte_eal_.*")
        .allowlist_function("rte_lcore_.*")
        .allowlist_function("rte_get_(main|next)_lcore")
        .allowlist_function("rte_socket_id")
        .allowlist_function("rte_thread_register")
        .allowlist_function("rte_strerror")
        .allowlist_function("rte_pktmbuf_(pool_create|alloc|alloc_bulk|free|free_bulk|reset|append|prepend|adj|trim|clone|copy)")
        .allowlist_function("rte_mempool_(free|avail_count|in_use_count|lookup)")
        .allowlist_function("rte_eth_.*")
        .allowlist_function("rte_ring_(create|free|lookup|count|free_count|enqueue_burst|dequeue_burst|enqueue|dequeue|mp_enqueue_burst|sc_dequeue_burst|sp_enqueue_burst)")
        .allowlist_function("rte_lpm_(create|free|add|delete|delete_all|lookup|lookup_bulk_func|is_rule_present|find_existing)")
        .allowlist_function("rte_lpm6_(create|free|add|delete|delete_all|lookup|lookup_bulk_func)")
        .allowlist_function("rte_tel_.*")
        .allowlist_function("rte_telemetry_.*")
        .allowlist_function("rte_pdump_(init|uninit)")
        .allowlist_function("rte_(get_tsc_hz|get_tsc_cycles|rdtsc|rdtsc_precise|get_timer_cycles|get_timer_hz|delay_us_block|pause)")
        .allowlist_function("rte_vdev_(init|uninit)")
        .allowlist_function("rte_version")
        .allowlist_function("glbpd_.*")
        .allowlist_var("GLBPD_.*")
        .allowlist_var("RTE_ETH_.*")
        .allowlist_var("RTE_ETHER_.*")
        .allowlist_var("RTE_MEMPOOL_CACHE_MAX_SIZE")
        .allowlist_var("RTE_PKTMBUF_HEADROOM")
        .allowlist_var("RTE_LPM_.*")
        .allowlist_var("RTE_LPM6_.*")
        .allowlist_var("RTE_RING_.*")
        .allowlist_var("RING_F_.*")
        .allowlist_var("SOCKET_ID_ANY")
        .allowlist_var("RTE_TEL_.*")
        .allowlist_var("RTE_PDUMP_.*")
        .allowlist_type("rte_eth_.*")
        .allowlist_type("rte_lcore_state_t")
        .opaque_type("rte_arp_ipv4")
        .opaque_type("rte_arp_hdr")
        .blocklist_type("__tile1024i")
        .derive_default(true)
        .derive_debug(true)
        .layout_tests(true)
        .generate_comments(false)
        .prepend_enum_name(false)
        .default_enum_style(bindgen::EnumVariation::ModuleConsts);

    let bindings =
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || builder.generate())) {
            Ok(Ok(b)) => b,
            Ok(Err(e)) => fail(&format!("bindgen could not parse the DPDK headers ({e})")),
            Err(_) => fail("bindgen could not load libclang"),
        };
    bindings
        .write_to_file(out.join("bindings.rs"))
        .unwrap_or_else(|e| fail(&format!("cannot write bindings ({e})")));

    let mut cc = cc::Build::new();
    cc.file(manifest.join("shim.c"))
        .file(static_fns.with_extension("c"))
        .include(&manifest)
        .warnings(false)
        .opt_level(3);
    for f in &cflags {
        cc.flag(f);
    }
    cc.compile("glbpd_dpdk_shim");

    // Link what pkg-config says; DPDK's shared build then loads its PMDs
    // from the driver directory by itself.
    for f in libs {
        if let Some(lib) = f.strip_prefix("-l") {
            println!("cargo:rustc-link-lib={lib}");
        } else if let Some(dir) = f.strip_prefix("-L") {
            println!("cargo:rustc-link-search=native={dir}");
        } else {
            println!("cargo:rustc-link-arg={f}");
        }
    }
}
