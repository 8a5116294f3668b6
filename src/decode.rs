//! `glbpd decode`: print the GLBP packets of a pcap or pcapng capture the
//! way IOS `debug glbp` does, or as JSON lines.
//!
//! Text: one line per message (group, sender, VG state, priority, timers,
//! virtual IP, authentication), then one indented line per forwarder
//! (number, state, priority, weight, VMAC, timers). VMACs are printed in
//! Cisco's `0007.b400.0101` notation as IOS does; other MACs as
//! `aa:bb:cc:dd:ee:ff`.
//!
//! JSON (`--json`): one object per GLBP packet per line with the keys
//! `frame` (1-based), `src_ip`, `src_mac`, `group`, `owner`, `hello` (null
//! or {`state`, `priority`, `hello_ms`, `hold_ms`, `redirect_s`,
//! `timeout_s`, `vip`}), `forwarders` ([{`number`, `state`, `priority`,
//! `weight`, `vmac`, `timeout_s`, `redirect_s`}]), `auth` (null or {`type`:
//! "text" | "md5-string" | "md5-chain", plus `key_id` for a key-chain}) and
//! `nonce` (null or {`counter`, `nonce`, `peers`: [{`owner`, `echo`}]},
//! nonces as 8-digit hex strings). States are IOS's words ("Listen",
//! "Speak", "Standby", "Active", also "Disabled" and "Init"); VF state 0,
//! used in forwarder requests and the AVG's responses, is "Unspecified";
//! values no state has are `Unknown(0x40)`. MACs are `aa:bb:cc:dd:ee:ff`.
//!
//! Frames that are not UDP 3222 -> 3222 over Ethernet are skipped. A frame
//! that is, but does not parse (bad checksum, bad TLV...), is reported (a
//! line, or an object with `frame` and `error`) and decoding goes on.

use crate::wire::glbp::frame::ReceivedFrame;
use crate::wire::glbp::{self, AuthRepr, GlbpRepr, NonceRepr, ReqRespRepr};
use crate::wire::Error as WireError;
use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::{Block, PcapNgReader};
use pcap_file::DataLink;
use serde_json::{json, Value};
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, Write};
use std::path::PathBuf;

/// Arguments of `glbpd decode`.
#[derive(Debug, Clone, clap::Args)]
pub struct DecodeArgs {
    /// Capture file, pcap or pcapng (told apart by its magic number).
    pub file: PathBuf,
    /// Print one JSON object per GLBP packet per line.
    #[arg(long)]
    pub json: bool,
}

/// Counts of what a decode run saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecodeSummary {
    /// Frames (packet records) in the file.
    pub frames: usize,
    /// GLBP messages decoded.
    pub glbp: usize,
    /// GLBP frames that failed to parse (reported in the output).
    pub errors: usize,
}

/// Why a decode run stopped.
#[derive(Debug)]
pub enum DecodeError {
    /// Reading the file or writing the output failed.
    Io(io::Error),
    /// The capture file is damaged.
    Pcap(pcap_file::PcapError),
    /// Neither a pcap nor a pcapng magic number.
    UnknownFormat,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::Io(e) => write!(f, "{e}"),
            DecodeError::Pcap(e) => write!(f, "bad capture file: {e}"),
            DecodeError::UnknownFormat => f.write_str("not a pcap or pcapng file"),
        }
    }
}

impl std::error::Error for DecodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DecodeError::Io(e) => Some(e),
            DecodeError::Pcap(e) => Some(e),
            DecodeError::UnknownFormat => None,
        }
    }
}

impl From<io::Error> for DecodeError {
    fn from(e: io::Error) -> Self {
        DecodeError::Io(e)
    }
}

impl From<pcap_file::PcapError> for DecodeError {
    fn from(e: pcap_file::PcapError) -> Self {
        DecodeError::Pcap(e)
    }
}

const PCAP_MAGICS: [[u8; 4]; 4] = [
    [0xd4, 0xc3, 0xb2, 0xa1],
    [0xa1, 0xb2, 0xc3, 0xd4],
    [0x4d, 0x3c, 0xb2, 0xa1],
    [0xa1, 0xb2, 0x3c, 0x4d],
];
const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

/// Decodes `args.file` to `out`.
pub fn run(args: &DecodeArgs, out: &mut dyn Write) -> Result<DecodeSummary, DecodeError> {
    let mut file = BufReader::new(File::open(&args.file)?);
    let mut magic = [0u8; 4];
    file.read_exact(&mut magic)
        .map_err(|_| DecodeError::UnknownFormat)?;
    file.rewind()?;
    let mut dec = Decoder {
        json: args.json,
        out,
        summary: DecodeSummary::default(),
    };
    if PCAP_MAGICS.contains(&magic) {
        let mut r = PcapReader::new(file)?;
        let link = r.header().datalink;
        while let Some(pkt) = r.next_packet() {
            dec.frame(link, &pkt?.data)?;
        }
    } else if magic == PCAPNG_MAGIC {
        let mut r = PcapNgReader::new(file)?;
        // Link types of the interfaces of the current section.
        let mut links: Vec<DataLink> = Vec::new();
        while let Some(block) = r.next_block() {
            let (iface, data) = match block? {
                Block::SectionHeader(_) => {
                    links.clear();
                    continue;
                }
                Block::InterfaceDescription(i) => {
                    links.push(i.linktype);
                    continue;
                }
                Block::EnhancedPacket(p) => (p.interface_id, p.data),
                Block::SimplePacket(p) => (0, p.data),
                Block::Packet(p) => (u32::from(p.interface_id), p.data),
                _ => continue,
            };
            // A packet naming no described interface cannot be interpreted.
            let link = links
                .get(iface as usize)
                .copied()
                .unwrap_or(DataLink::Unknown(u32::MAX));
            dec.frame(link, &data)?;
        }
    } else {
        return Err(DecodeError::UnknownFormat);
    }
    out_flush(dec.out)?;
    Ok(dec.summary)
}

fn out_flush(out: &mut dyn Write) -> io::Result<()> {
    out.flush()
}

struct Decoder<'o> {
    json: bool,
    out: &'o mut dyn Write,
    summary: DecodeSummary,
}

impl Decoder<'_> {
    fn frame(&mut self, link: DataLink, data: &[u8]) -> io::Result<()> {
        self.summary.frames += 1;
        let n = self.summary.frames;
        if link != DataLink::ETHERNET {
            return Ok(());
        }
        let rx = match ReceivedFrame::parse(data) {
            Err(WireError::Unrecognized) => return Ok(()),
            Err(e) => return self.error(n, e),
            Ok(rx) => rx,
        };
        match glbp::Packet::new_checked(rx.payload).and_then(|p| GlbpRepr::parse(&p)) {
            Err(e) => self.error(n, e),
            Ok(msg) => {
                self.summary.glbp += 1;
                if self.json {
                    writeln!(self.out, "{}", to_json(n, &rx, &msg))
                } else {
                    write_text(self.out, n, &rx, &msg)
                }
            }
        }
    }

    fn error(&mut self, n: usize, e: WireError) -> io::Result<()> {
        self.summary.errors += 1;
        if self.json {
            writeln!(
                self.out,
                "{}",
                json!({ "frame": n, "error": e.to_string() })
            )
        } else {
            writeln!(self.out, "frame {n}: GLBP: bad packet: {e}")
        }
    }
}

/// Cisco's `0007.b400.0101` notation.
fn auth_word(a: &Option<AuthRepr>) -> String {
    match a {
        None => "none".into(),
        Some(AuthRepr::Text(_)) => "text".into(),
        Some(AuthRepr::Md5String { .. }) => "md5-string".into(),
        Some(AuthRepr::Md5Chain { key_id, .. }) => format!("md5-chain key-id {key_id}"),
    }
}

fn write_text(
    out: &mut dyn Write,
    n: usize,
    rx: &ReceivedFrame<'_>,
    m: &GlbpRepr,
) -> io::Result<()> {
    let kind = if m.hello.is_some() {
        "Hello"
    } else {
        "Req/Resp"
    };
    write!(
        out,
        "frame {n}: GLBP: Grp {} {kind} in {} ({}) owner {}",
        m.group, rx.src_ip, rx.src_mac, m.owner
    )?;
    if let Some(h) = &m.hello {
        write!(
            out,
            " VG {} pri {} vIP {} hello {}, hold {}, redirect {}, timeout {}",
            h.state, h.priority, h.vip, h.hello_ms, h.hold_ms, h.redirect_s, h.timeout_s
        )?;
    }
    write!(out, " auth {}", auth_word(&m.auth))?;
    if let Some(nc) = &m.nonce {
        write!(
            out,
            " nonce {:08x} gen {} peers {}",
            nc.nonce,
            nc.counter,
            nc.peers.len()
        )?;
        for p in &nc.peers {
            write!(out, " {}={:08x}", p.owner, p.echo)?;
        }
    }
    writeln!(out)?;
    for f in &m.forwarders {
        writeln!(
            out,
            "frame {n}:     Fwd {} VF {} pri {} weight {} vMAC {} timeout {}, redirect {}",
            f.forwarder,
            f.state,
            f.priority,
            f.weight,
            crate::protocol::cisco_mac(f.vmac),
            f.timeout_s,
            f.redirect_s
        )?;
    }
    Ok(())
}

fn forwarder_json(f: &ReqRespRepr) -> Value {
    json!({
        "number": f.forwarder,
        "state": f.state.to_string(),
        "priority": f.priority,
        "weight": f.weight,
        "vmac": f.vmac.to_string(),
        "timeout_s": f.timeout_s,
        "redirect_s": f.redirect_s,
    })
}

fn nonce_json(n: &NonceRepr) -> Value {
    json!({
        "counter": n.counter,
        "nonce": format!("{:08x}", n.nonce),
        "peers": n.peers.iter().map(|p| json!({ "owner": p.owner.to_string(), "echo": format!("{:08x}", p.echo) })).collect::<Vec<_>>(),
    })
}

fn to_json(n: usize, rx: &ReceivedFrame<'_>, m: &GlbpRepr) -> Value {
    json!({
        "frame": n,
        "src_ip": rx.src_ip.to_string(),
        "src_mac": rx.src_mac.to_string(),
        "group": m.group,
        "owner": m.owner.to_string(),
        "hello": m.hello.map(|h| json!({
            "state": h.state.to_string(),
            "priority": h.priority,
            "hello_ms": h.hello_ms,
            "hold_ms": h.hold_ms,
            "redirect_s": h.redirect_s,
            "timeout_s": h.timeout_s,
            "vip": h.vip.to_string(),
        })),
        "forwarders": m.forwarders.iter().map(forwarder_json).collect::<Vec<_>>(),
        "auth": m.auth.as_ref().map(|a| match a {
            AuthRepr::Text(_) => json!({ "type": "text" }),
            AuthRepr::Md5String { .. } => json!({ "type": "md5-string" }),
            AuthRepr::Md5Chain { key_id, .. } => json!({ "type": "md5-chain", "key_id": key_id }),
        }),
        "nonce": m.nonce.as_ref().map(nonce_json),
    })
}
