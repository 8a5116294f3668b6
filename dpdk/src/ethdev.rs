use std::cell::Cell;
use std::ffi::CStr;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use dpdk_ffi as ffi;

use super::error::{check, cstring, Error, Result};
use super::mbuf::{Burst, Mempool};

/// What a port's driver can do.
#[derive(Debug, Clone)]
pub struct DevInfo {
    pub driver: String,
    pub max_rx_queues: u16,
    pub max_tx_queues: u16,
    pub max_mac_addrs: u32,
    pub min_mtu: u16,
    pub max_mtu: u16,
    pub rx_offload_capa: u64,
    pub tx_offload_capa: u64,
    pub flow_type_rss_offloads: u64,
    pub socket: i32,
}

/// How to configure a port.
#[derive(Debug, Clone)]
pub struct PortConf {
    pub rx_queues: u16,
    pub tx_queues: u16,
    pub rx_desc: u16,
    pub tx_desc: u16,
    /// Spread RX over the queues by RSS when the device supports it.
    pub rss: bool,
    pub mtu: Option<u16>,
    /// Ask the device to verify received IPv4 header checksums
    /// (`RTE_ETH_RX_OFFLOAD_IPV4_CKSUM`) when it can; see
    /// [`EthDev::rx_ip_cksum_offload`].
    pub rx_ip_cksum: bool,
    /// Ask the device to strip received 802.1Q tags
    /// (`RTE_ETH_RX_OFFLOAD_VLAN_STRIP`) and to insert them on transmit
    /// (`RTE_ETH_TX_OFFLOAD_VLAN_INSERT`), each when it can; see
    /// [`EthDev::vlan_offloads`].
    pub vlan: bool,
}

/// Link state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkStatus {
    pub up: bool,
    pub speed_mbps: u32,
    pub full_duplex: bool,
}

/// Basic port counters (`rte_eth_stats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct PortStats {
    pub ipackets: u64,
    pub opackets: u64,
    pub ibytes: u64,
    pub obytes: u64,
    pub imissed: u64,
    pub ierrors: u64,
    pub oerrors: u64,
    pub rx_nombuf: u64,
}

struct PortInner {
    id: u16,
    name: String,
    started: AtomicBool,
    rx_taken: Mutex<Vec<bool>>,
    tx_taken: Mutex<Vec<bool>>,
    /// The device verifies received IPv4 header checksums.
    rx_ip_cksum: bool,
    /// The device strips received 802.1Q tags / inserts them on transmit.
    rx_vlan_strip: bool,
    tx_vlan_insert: bool,
    /// Queues hold mbufs from this pool: it must outlive the port.
    _pool: Option<Arc<Mempool>>,
}

impl Drop for PortInner {
    fn drop(&mut self) {
        if self.started.load(Ordering::SeqCst) {
            // SAFETY: no queue handle exists any more (they hold this Arc),
            // so no lcore polls the port.
            let rc = unsafe { ffi::rte_eth_dev_stop(self.id) };
            if rc < 0 {
                log::warn!(
                    "port {}: stop failed: {}",
                    self.name,
                    super::error::strerror(-rc)
                );
            }
        }
        // SAFETY: the port is stopped and unused.
        let rc = unsafe { ffi::rte_eth_dev_close(self.id) };
        if rc < 0 {
            log::warn!(
                "port {}: close failed: {}",
                self.name,
                super::error::strerror(-rc)
            );
        }
    }
}

/// An ethdev port, stopped and closed when the last handle (the `EthDev` or
/// one of its queues) is dropped.
#[derive(Clone)]
pub struct EthDev {
    inner: Arc<PortInner>,
}

impl EthDev {
    /// Number of ports EAL probed.
    pub fn count() -> u16 {
        // SAFETY: plain getter.
        unsafe { ffi::rte_eth_dev_count_avail() }
    }

    /// Port id of the device EAL probed under `name` (a vdev name such as
    /// `net_null0` or a PCI address such as `0000:01:00.0`).
    pub fn id_by_name(name: &str) -> Result<u16> {
        let c = cstring("rte_eth_dev_get_port_by_name", name)?;
        let mut id = 0u16;
        // SAFETY: c is a valid C string and id a valid out pointer.
        check("rte_eth_dev_get_port_by_name", unsafe {
            ffi::rte_eth_dev_get_port_by_name(c.as_ptr(), &mut id)
        })?;
        Ok(id)
    }

    /// Driver capabilities of port `id`.
    pub fn dev_info(id: u16) -> Result<DevInfo> {
        let mut info = ffi::rte_eth_dev_info::default();
        // SAFETY: info is a valid out pointer; DPDK validates the port id.
        check("rte_eth_dev_info_get", unsafe {
            ffi::rte_eth_dev_info_get(id, &mut info)
        })?;
        let driver = if info.driver_name.is_null() {
            String::new()
        } else {
            // SAFETY: non-null driver_name is a static NUL-terminated string.
            unsafe { CStr::from_ptr(info.driver_name) }
                .to_string_lossy()
                .into_owned()
        };
        // SAFETY: plain getter; DPDK validates the id.
        let socket = unsafe { ffi::rte_eth_dev_socket_id(id) };
        Ok(DevInfo {
            driver,
            max_rx_queues: info.max_rx_queues,
            max_tx_queues: info.max_tx_queues,
            max_mac_addrs: info.max_mac_addrs,
            min_mtu: info.min_mtu,
            max_mtu: info.max_mtu,
            rx_offload_capa: info.rx_offload_capa,
            tx_offload_capa: info.tx_offload_capa,
            flow_type_rss_offloads: info.flow_type_rss_offloads,
            socket,
        })
    }

    /// Configures port `id`, sets up its queues on `pool` and starts it.
    /// Features the device lacks (RSS, MTU) are logged and skipped.
    pub fn start(id: u16, name: &str, conf: &PortConf, pool: Arc<Mempool>) -> Result<EthDev> {
        let info = Self::dev_info(id)?;
        let mut eth = ffi::rte_eth_conf::default();
        // SAFETY: reads constants exported by the C shim.
        let rss_want =
            unsafe { ffi::GLBPD_ETH_RSS_IP | ffi::GLBPD_ETH_RSS_UDP | ffi::GLBPD_ETH_RSS_TCP };
        if conf.rss && conf.rx_queues > 1 {
            let hf = rss_want & info.flow_type_rss_offloads;
            if hf != 0 {
                eth.rxmode.mq_mode = ffi::rte_eth_rx_mq_mode::RTE_ETH_MQ_RX_RSS;
                eth.rx_adv_conf.rss_conf.rss_hf = hf;
            } else {
                log::warn!(
                    "port {name}: driver {} has no RSS; queues other than 0 may stay idle",
                    info.driver
                );
            }
        }
        // SAFETY: reads a constant exported by the C shim.
        let ip_cksum = unsafe { ffi::GLBPD_ETH_RX_OFFLOAD_IPV4_CKSUM };
        let rx_ip_cksum = conf.rx_ip_cksum && info.rx_offload_capa & ip_cksum != 0;
        if rx_ip_cksum {
            eth.rxmode.offloads |= ip_cksum;
        }
        // SAFETY: reads constants exported by the C shim.
        let (strip, insert) = unsafe {
            (
                ffi::GLBPD_ETH_RX_OFFLOAD_VLAN_STRIP,
                ffi::GLBPD_ETH_TX_OFFLOAD_VLAN_INSERT,
            )
        };
        let rx_vlan_strip = conf.vlan && info.rx_offload_capa & strip != 0;
        let tx_vlan_insert = conf.vlan && info.tx_offload_capa & insert != 0;
        if rx_vlan_strip {
            eth.rxmode.offloads |= strip;
        }
        if tx_vlan_insert {
            eth.txmode.offloads |= insert;
        }
        // SAFETY: eth is a fully initialised rte_eth_conf; DPDK validates the
        // rest and returns an error code.
        check("rte_eth_dev_configure", unsafe {
            ffi::rte_eth_dev_configure(id, conf.rx_queues, conf.tx_queues, &eth)
        })?;
        let (mut nrx, mut ntx) = (conf.rx_desc, conf.tx_desc);
        // SAFETY: valid out pointers; DPDK validates the port.
        check("rte_eth_dev_adjust_nb_rx_tx_desc", unsafe {
            ffi::rte_eth_dev_adjust_nb_rx_tx_desc(id, &mut nrx, &mut ntx)
        })?;
        if let Some(mtu) = conf.mtu {
            // SAFETY: plain call; DPDK validates the value.
            let rc = unsafe { ffi::rte_eth_dev_set_mtu(id, mtu) };
            if rc < 0 {
                log::warn!(
                    "port {name}: cannot set MTU {mtu}: {}; keeping the default",
                    super::error::strerror(-rc)
                );
            }
        }
        let socket = if info.socket < 0 {
            ffi::SOCKET_ID_ANY
        } else {
            info.socket
        };
        for q in 0..conf.rx_queues {
            // SAFETY: a NULL rx_conf selects the driver defaults; the pool
            // outlives the port (PortInner keeps an Arc).
            check("rte_eth_rx_queue_setup", unsafe {
                ffi::rte_eth_rx_queue_setup(
                    id,
                    q,
                    nrx,
                    socket as u32,
                    std::ptr::null(),
                    pool.as_ptr(),
                )
            })?;
        }
        for q in 0..conf.tx_queues {
            // SAFETY: a NULL tx_conf selects the driver defaults.
            check("rte_eth_tx_queue_setup", unsafe {
                ffi::rte_eth_tx_queue_setup(id, q, ntx, socket as u32, std::ptr::null())
            })?;
        }
        let inner = PortInner {
            id,
            name: name.to_string(),
            started: AtomicBool::new(false),
            rx_taken: Mutex::new(vec![false; conf.rx_queues as usize]),
            tx_taken: Mutex::new(vec![false; conf.tx_queues as usize]),
            rx_ip_cksum,
            rx_vlan_strip,
            tx_vlan_insert,
            _pool: Some(pool),
        };
        let port = EthDev {
            inner: Arc::new(inner),
        };
        // SAFETY: the port is configured with all its queues set up.
        check("rte_eth_dev_start", unsafe { ffi::rte_eth_dev_start(id) })?;
        port.inner.started.store(true, Ordering::SeqCst);
        Ok(port)
    }

    /// True when the device verifies received IPv4 header checksums and
    /// reports them in each mbuf ([`crate::Mbuf::rx_ip_cksum`]).
    pub fn rx_ip_cksum_offload(&self) -> bool {
        self.inner.rx_ip_cksum
    }

    /// (the device strips received 802.1Q tags, it inserts them on
    /// transmit): stripped tags are in each mbuf
    /// ([`crate::Mbuf::vlan_strip`]); without the insert offload, tags are
    /// written in software ([`crate::Mbuf::vlan_insert`]).
    pub fn vlan_offloads(&self) -> (bool, bool) {
        (self.inner.rx_vlan_strip, self.inner.tx_vlan_insert)
    }

    #[inline]
    pub fn id(&self) -> u16 {
        self.inner.id
    }
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    fn take(&self, which: &Mutex<Vec<bool>>, q: u16, op: &'static str) -> Result<()> {
        let mut taken = which.lock().unwrap_or_else(|e| e.into_inner());
        match taken.get_mut(q as usize) {
            Some(t) if !*t => {
                *t = true;
                Ok(())
            }
            Some(_) => Err(Error::Invalid {
                op,
                what: format!("queue {q} of {} is already taken", self.name()),
            }),
            None => Err(Error::Invalid {
                op,
                what: format!("{} has no queue {q}", self.name()),
            }),
        }
    }

    /// The handle of RX queue `q`; each queue can be taken once.
    pub fn rx_queue(&self, q: u16) -> Result<RxQueue> {
        self.take(&self.inner.rx_taken, q, "rx_queue")?;
        Ok(RxQueue {
            port: self.inner.clone(),
            queue: q,
            _not_sync: PhantomData,
        })
    }

    /// The handle of TX queue `q`; each queue can be taken once.
    pub fn tx_queue(&self, q: u16) -> Result<TxQueue> {
        self.take(&self.inner.tx_taken, q, "tx_queue")?;
        Ok(TxQueue {
            port: self.inner.clone(),
            queue: q,
            _not_sync: PhantomData,
        })
    }

    /// The port's own (default) MAC address.
    pub fn mac(&self) -> Result<[u8; 6]> {
        let mut a = ffi::rte_ether_addr::default();
        // SAFETY: valid out pointer.
        check("rte_eth_macaddr_get", unsafe {
            ffi::rte_eth_macaddr_get(self.id(), &mut a)
        })?;
        Ok(a.addr_bytes)
    }

    /// Replaces the port's own MAC address.
    pub fn set_mac(&self, mac: [u8; 6]) -> Result<()> {
        let mut a = ffi::rte_ether_addr { addr_bytes: mac };
        // SAFETY: valid pointer to an address.
        check("rte_eth_dev_default_mac_addr_set", unsafe {
            ffi::rte_eth_dev_default_mac_addr_set(self.id(), &mut a)
        })?;
        Ok(())
    }

    /// Adds a unicast MAC to the receive filter.
    pub fn mac_add(&self, mac: [u8; 6]) -> Result<()> {
        let mut a = ffi::rte_ether_addr { addr_bytes: mac };
        // SAFETY: valid pointer to an address; pool 0 is the default.
        check("rte_eth_dev_mac_addr_add", unsafe {
            ffi::rte_eth_dev_mac_addr_add(self.id(), &mut a, 0)
        })?;
        Ok(())
    }

    /// Removes a unicast MAC from the receive filter.
    pub fn mac_remove(&self, mac: [u8; 6]) -> Result<()> {
        let mut a = ffi::rte_ether_addr { addr_bytes: mac };
        // SAFETY: valid pointer to an address.
        check("rte_eth_dev_mac_addr_remove", unsafe {
            ffi::rte_eth_dev_mac_addr_remove(self.id(), &mut a)
        })?;
        Ok(())
    }

    /// Sets the multicast addresses the port accepts.
    pub fn set_mc_addr_list(&self, macs: &[[u8; 6]]) -> Result<()> {
        let mut list: Vec<ffi::rte_ether_addr> = macs
            .iter()
            .map(|m| ffi::rte_ether_addr { addr_bytes: *m })
            .collect();
        // SAFETY: list is a valid array of list.len() addresses.
        check("rte_eth_dev_set_mc_addr_list", unsafe {
            ffi::rte_eth_dev_set_mc_addr_list(self.id(), list.as_mut_ptr(), list.len() as u32)
        })?;
        Ok(())
    }

    pub fn set_promiscuous(&self, on: bool) -> Result<()> {
        // SAFETY: plain calls; DPDK validates the port.
        let rc = unsafe {
            if on {
                ffi::rte_eth_promiscuous_enable(self.id())
            } else {
                ffi::rte_eth_promiscuous_disable(self.id())
            }
        };
        check("rte_eth_promiscuous_enable/disable", rc).map(|_| ())
    }

    pub fn promiscuous(&self) -> bool {
        // SAFETY: plain getter.
        unsafe { ffi::rte_eth_promiscuous_get(self.id()) == 1 }
    }

    pub fn set_allmulticast(&self, on: bool) -> Result<()> {
        // SAFETY: plain calls; DPDK validates the port.
        let rc = unsafe {
            if on {
                ffi::rte_eth_allmulticast_enable(self.id())
            } else {
                ffi::rte_eth_allmulticast_disable(self.id())
            }
        };
        check("rte_eth_allmulticast_enable/disable", rc).map(|_| ())
    }

    pub fn link(&self) -> Result<LinkStatus> {
        let mut l = ffi::rte_eth_link::default();
        // SAFETY: valid out pointer.
        check("rte_eth_link_get_nowait", unsafe {
            ffi::rte_eth_link_get_nowait(self.id(), &mut l)
        })?;
        Ok(LinkStatus {
            up: l.link_status() == ffi::RTE_ETH_LINK_UP as u16,
            speed_mbps: l.link_speed,
            full_duplex: l.link_duplex() == 1,
        })
    }

    pub fn stats(&self) -> Result<PortStats> {
        let mut s = ffi::rte_eth_stats::default();
        // SAFETY: valid out pointer.
        check("rte_eth_stats_get", unsafe {
            ffi::rte_eth_stats_get(self.id(), &mut s)
        })?;
        Ok(PortStats {
            ipackets: s.ipackets,
            opackets: s.opackets,
            ibytes: s.ibytes,
            obytes: s.obytes,
            imissed: s.imissed,
            ierrors: s.ierrors,
            oerrors: s.oerrors,
            rx_nombuf: s.rx_nombuf,
        })
    }
}

/// One RX queue of a port, polled by exactly one lcore (`Send`, not `Sync`).
pub struct RxQueue {
    port: Arc<PortInner>,
    queue: u16,
    _not_sync: PhantomData<Cell<()>>,
}

impl RxQueue {
    /// Receives into the free slots of `burst`; returns how many arrived.
    #[inline]
    pub fn rx(&mut self, burst: &mut Burst) -> usize {
        self.rx_limited(burst, usize::MAX)
    }

    /// Receives at most `max` packets into the free slots of `burst`.
    #[inline]
    pub fn rx_limited(&mut self, burst: &mut Burst, max: usize) -> usize {
        let (slots, room) = burst.spare_raw();
        let room = room.min(max.min(usize::from(u16::MAX)) as u16);
        if room == 0 {
            return 0;
        }
        // SAFETY: slots points at `room` writable pointer slots inside the
        // burst; the port is started and this handle is the only user of the
        // queue (taken once, not Sync).
        let n = unsafe { ffi::rte_eth_rx_burst(self.port.id, self.queue, slots, room) } as usize;
        burst.set_filled(n);
        n
    }
}

/// One TX queue of a port, used by exactly one lcore (`Send`, not `Sync`).
pub struct TxQueue {
    port: Arc<PortInner>,
    queue: u16,
    _not_sync: PhantomData<Cell<()>>,
}

impl TxQueue {
    /// Transmits what the device accepts from the front of `burst`; what
    /// it refused stays in the burst. Returns how many were sent.
    #[inline]
    pub fn tx(&mut self, burst: &mut Burst) -> usize {
        let (pkts, n) = burst.raw();
        if n == 0 {
            return 0;
        }
        // SAFETY: pkts holds n owned mbufs; the driver takes ownership of
        // the first `sent`, which consume_front forgets. Only this handle
        // uses the queue.
        let sent = unsafe { ffi::rte_eth_tx_burst(self.port.id, self.queue, pkts, n) } as usize;
        burst.consume_front(sent);
        sent
    }
}
