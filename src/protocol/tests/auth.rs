//! Authentication: text and MD5 modes, nonces (engine: group/auth.rs).

use super::*;

#[test]
fn auth_mismatch_and_missing_are_dropped_and_counted() {
    let mut g = group(
        2,
        GroupConfig {
            authentication: Authentication::Text("s3cret".into()),
            ..cfg()
        },
    );
    g.handle(0, Event::Enable);
    let a = g.handle(1, Event::Rx(hello_from(1, VgState::Active, 100)));
    assert!(a.is_empty());
    let mut wrong = hello_from(1, VgState::Active, 100);
    wrong.repr.auth = Some(AuthRepr::Text(b"guess".to_vec()));
    g.handle(2, Event::Rx(wrong.clone()));
    assert_eq!(g.counters().auth_failures, 2);
    assert_eq!(g.counters().hellos_in, 0);
    wrong.repr.auth = Some(AuthRepr::Text(b"s3cret".to_vec()));
    g.handle(3, Event::Rx(wrong));
    assert_eq!(g.counters().hellos_in, 1);
    // Outgoing messages carry the password.
    let a = run(&mut g, 10_000);
    assert_eq!(
        sends(&a)[0].2.auth,
        Some(AuthRepr::Text(b"s3cret".to_vec()))
    );
}

#[test]
fn md5_uses_runtime_verdict_sends_zero_digest_and_echoes_nonces() {
    let mut g = group(
        2,
        GroupConfig {
            authentication: Authentication::Md5KeyString("k".into()),
            ..cfg()
        },
    );
    let a = g.handle(0, Event::Enable);
    let m = sends(&a)[0].2;
    assert_eq!(m.auth, Some(AuthRepr::Md5String { digest: [0; 16] }));
    let n0 = m.nonce.clone().unwrap();
    assert!(n0.peers.is_empty());
    let mut h = hello_from(1, VgState::Active, 100);
    h.repr.auth = Some(AuthRepr::Md5String { digest: [7; 16] });
    h.auth_ok = false;
    g.handle(1, Event::Rx(h.clone()));
    g.handle(1, Event::AuthFailed { src_ip: ip(1) });
    assert_eq!(g.counters().auth_failures, 2);
    h.auth_ok = true;
    h.repr.nonce = Some(crate::wire::glbp::NonceRepr {
        counter: 1,
        nonce: 0xdead_beef,
        peers: vec![],
    });
    g.handle(2, Event::Rx(h.clone()));
    // Peers without a nonce TLV are accepted too.
    h.repr.nonce = None;
    g.handle(3, Event::Rx(h.clone()));
    assert_eq!(g.counters().hellos_in, 2);
    let mut a = Vec::new();
    for t in (3000..=25_000).step_by(3000) {
        a.extend(run(&mut g, t));
        h.repr.nonce = Some(crate::wire::glbp::NonceRepr {
            counter: 1,
            nonce: 0xdead_beef,
            peers: vec![],
        });
        g.handle(t, Event::Rx(h.clone()));
    }
    let ms: Vec<_> = sends(&a)
        .into_iter()
        .filter_map(|s| s.2.nonce.clone())
        .collect();
    assert!(ms.iter().all(|n| n.peers
        == [crate::wire::glbp::NoncePeer {
            owner: mac(1),
            echo: 0xdead_beef
        }]));
    assert!(
        ms.iter()
            .any(|n| n.counter == n0.counter.wrapping_add(1) && n.nonce != n0.nonce),
        "rotates ~20 s"
    );
    let mut k = group(
        3,
        GroupConfig {
            // Sent with the lowest key id, whatever the order in the file.
            authentication: Authentication::Md5KeyChain(vec![
                crate::protocol::ChainKey {
                    id: 12,
                    key: "b".into(),
                },
                crate::protocol::ChainKey {
                    id: 9,
                    key: "a".into(),
                },
            ]),
            ..cfg()
        },
    );
    let a = k.handle(0, Event::Enable);
    assert_eq!(
        sends(&a)[0].2.auth,
        Some(AuthRepr::Md5Chain {
            key_id: 9,
            digest: [0; 16]
        })
    );
}
