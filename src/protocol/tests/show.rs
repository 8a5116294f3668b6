//! Log lines and `show glbp` text.

use super::*;

#[test]
fn log_lines_read_like_ios() {
    let a = Action::VgStateChange {
        group: 1,
        old: VgState::Speak,
        new: VgState::Active,
    };
    assert_eq!(
        a.log_line("lan0").unwrap(),
        "%GLBP-6-STATECHANGE: lan0 Grp 1 state Speak -> Active"
    );
    let a = Action::VfStateChange {
        group: 1,
        forwarder: 2,
        old: VfState::Listen,
        new: VfState::Active,
    };
    assert_eq!(
        a.log_line("lan0").unwrap(),
        "%GLBP-6-FWDSTATECHANGE: lan0 Grp 1 Fwd 2 state Listen -> Active"
    );
    assert_eq!(
        Action::StartForwarding { vmac: vmac(1, 1) }.log_line("lan0"),
        None
    );
}

#[test]
fn show_glbp_reads_like_ios() {
    let mut n = three();
    n.run_until(60_000);
    let s = n.routers[0].status(n.now).show("lan0");
    for line in [
        "lan0 - Group 1",
        "  State is Active",
        "  Virtual IP address is 10.0.0.254",
        "  Hello time 3 sec, hold time 10 sec",
        "  Standby is 10.0.0.2, priority 105",
        "  There are 3 forwarders (1 active)",
        "    MAC address is 0007.b400.0101 (default)",
        "    Owner ID is 0200.0000.0001 (local)",
        "    Active is local, weighting 100",
        "    0200.0000.0003 (10.0.0.3)",
    ] {
        assert!(s.contains(line), "missing {line:?} in\n{s}");
    }
}
