use std::ptr::NonNull;
use std::sync::atomic::{AtomicI32, Ordering};

use dpdk_ffi as ffi;

use super::error::{cstring, non_null, rte_errno, Error, Result};

/// Largest burst handled at once.
pub const MAX_BURST: usize = 64;

/// A packet-buffer pool (`rte_mempool` of mbufs); freed on drop.
pub struct Mempool {
    raw: NonNull<ffi::rte_mempool>,
}

// SAFETY: rte_mempool is designed for concurrent use from many lcores (with
// per-lcore caches for EAL threads); the pointer is only freed on drop.
unsafe impl Send for Mempool {}
// SAFETY: as above; all operations through &Mempool are thread-safe.
unsafe impl Sync for Mempool {}

impl Mempool {
    /// Creates a pool of `count` mbufs with `data_room` bytes each (0 for the
    /// default of 2048 + headroom) and a per-lcore cache of `cache`.
    pub fn new(name: &str, count: u32, cache: u32, data_room: u16, socket: i32) -> Result<Mempool> {
        let cname = cstring("rte_pktmbuf_pool_create", name)?;
        let room = if data_room == 0 {
            // SAFETY: shim returning a constant.
            unsafe { ffi::glbpd_mbuf_default_buf_size() }
        } else {
            data_room
        };
        let cache = cache.min(ffi::RTE_MEMPOOL_CACHE_MAX_SIZE);
        // SAFETY: cname is a valid C string; EAL must be initialised, which
        // every caller guarantees by holding an Eal (DPDK reports ENODEV
        // otherwise, which we return).
        let p =
            unsafe { ffi::rte_pktmbuf_pool_create(cname.as_ptr(), count, cache, 0, room, socket) };
        Ok(Mempool {
            raw: non_null("rte_pktmbuf_pool_create", p)?,
        })
    }

    #[inline]
    pub(crate) fn as_ptr(&self) -> *mut ffi::rte_mempool {
        self.raw.as_ptr()
    }

    /// Allocates one mbuf.
    #[inline]
    pub fn alloc(&self) -> Option<Mbuf> {
        // SAFETY: the pool pointer is valid for the life of self.
        let m = unsafe { ffi::rte_pktmbuf_alloc(self.raw.as_ptr()) };
        NonNull::new(m).map(|raw| Mbuf { raw })
    }
}

impl Drop for Mempool {
    fn drop(&mut self) {
        // SAFETY: no Mbuf outlives its pool in glbpd: ports (which hold
        // mbufs in their rings) are closed before the pool is dropped.
        unsafe { ffi::rte_mempool_free(self.raw.as_ptr()) }
    }
}

/// One owned single-segment packet buffer; freed on drop.
///
/// `repr(transparent)`: a slot of a [`Burst`] (a non-null `*mut rte_mbuf`)
/// and an `Mbuf` have the same layout, so a burst can lend its mbufs as a
/// slice ([`Burst::as_mut_slice`]).
#[repr(transparent)]
pub struct Mbuf {
    raw: NonNull<ffi::rte_mbuf>,
}

// SAFETY: an mbuf is owned by exactly one Mbuf at a time and may be freed
// from any lcore (mempools are thread-safe).
unsafe impl Send for Mbuf {}

impl Mbuf {
    /// Takes ownership of a raw mbuf.
    ///
    /// # Safety
    /// `raw` must be a valid mbuf that nothing else owns.
    pub(crate) unsafe fn from_raw(raw: NonNull<ffi::rte_mbuf>) -> Mbuf {
        Mbuf { raw }
    }

    #[inline]
    pub(crate) fn into_raw(self) -> *mut ffi::rte_mbuf {
        let p = self.raw.as_ptr();
        std::mem::forget(self);
        p
    }

    /// The packet's bytes (first segment).
    #[inline]
    pub fn data(&self) -> &[u8] {
        // SAFETY: the mbuf is valid and owned by us; `buf_addr + data_off`
        // is what rte_pktmbuf_mtod computes, and data_len initialised bytes
        // follow it inside the buffer. Read in Rust rather than through a
        // C shim: this runs several times per packet.
        unsafe {
            let m = self.raw.as_ref();
            let p = (m.buf_addr as *const u8).add(usize::from(m.data_off));
            std::slice::from_raw_parts(p, usize::from(m.data_len))
        }
    }

    /// The packet's bytes, writable.
    #[inline]
    pub fn data_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in data(); &mut self gives exclusive access.
        unsafe {
            let m = self.raw.as_ref();
            let p = (m.buf_addr as *mut u8).add(usize::from(m.data_off));
            std::slice::from_raw_parts_mut(p, usize::from(m.data_len))
        }
    }

    /// Length of the whole packet (all segments).
    #[inline]
    pub fn pkt_len(&self) -> u32 {
        // SAFETY: reads a plain field of a valid mbuf.
        unsafe { self.raw.as_ref().pkt_len }
    }

    /// True when the packet has more than one segment.
    #[inline]
    pub fn is_segmented(&self) -> bool {
        // SAFETY: reads plain fields of a valid mbuf.
        let m = unsafe { self.raw.as_ref() };
        m.pkt_len != u32::from(m.data_len)
    }

    /// Sets the data length of a single-segment mbuf to `len` (clamped to
    /// the buffer's room) and returns the new data slice.
    #[inline]
    pub fn set_len(&mut self, len: usize) -> &mut [u8] {
        // SAFETY: reads fields of a valid mbuf we own.
        let room = unsafe {
            let m = self.raw.as_ref();
            (m.buf_len as usize).saturating_sub(m.data_off as usize)
        };
        let len = len.min(room).min(u16::MAX as usize) as u16;
        // SAFETY: len fits in the buffer; single-segment mbuf we own.
        unsafe { ffi::glbpd_pktmbuf_set_len(self.raw.as_ptr(), len) };
        self.data_mut()
    }

    /// Copies `bytes` into the mbuf, replacing its content. Returns false
    /// (and leaves the mbuf unchanged) when they do not fit.
    #[inline]
    pub fn write(&mut self, bytes: &[u8]) -> bool {
        // SAFETY: reads fields of a valid mbuf we own.
        let room = unsafe {
            let m = self.raw.as_ref();
            (m.buf_len as usize).saturating_sub(m.data_off as usize)
        };
        if bytes.len() > room {
            return false;
        }
        self.set_len(bytes.len()).copy_from_slice(bytes);
        true
    }

    /// What the device said about the IPv4 header checksum
    /// (`RTE_MBUF_F_RX_IP_CKSUM_*` in `ol_flags`). Devices without the
    /// offload, and ports that did not enable it, leave it `Unknown`.
    #[inline]
    pub fn rx_ip_cksum(&self) -> RxCksum {
        // SAFETY: reads a plain field of a valid mbuf.
        let f = unsafe { self.raw.as_ref().ol_flags } & RX_IP_CKSUM_MASK;
        match f {
            RX_IP_CKSUM_GOOD => RxCksum::Good,
            RX_IP_CKSUM_BAD => RxCksum::Bad,
            RX_IP_CKSUM_MASK => RxCksum::None,
            _ => RxCksum::Unknown,
        }
    }

    /// Starts loading the first cache line of the packet's data, as l3fwd
    /// does a few packets ahead of the one it works on.
    #[inline]
    pub fn prefetch_data(&self) {
        #[cfg(target_arch = "x86_64")]
        {
            // SAFETY: reads plain fields of a valid mbuf; a prefetch never
            // faults and does not dereference the address architecturally.
            unsafe {
                let m = self.raw.as_ref();
                let p = (m.buf_addr as *const i8).add(usize::from(m.data_off));
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p);
            }
        }
    }

    /// Removes the frame's 802.1Q tag and returns its TCI, as
    /// `rte_vlan_strip` does: the device's when it stripped the tag
    /// (`RTE_MBUF_F_RX_VLAN_STRIPPED`), else the tag in the data, which is
    /// taken out by moving the MAC addresses 4 bytes up. Afterwards
    /// [`Mbuf::vlan_tci`] gives the TCI. None for an untagged frame (or a
    /// tagged one too short to hold a tag), left as it is.
    #[inline]
    pub fn vlan_strip(&mut self) -> Option<u16> {
        if let Some(tci) = self.vlan_tci() {
            return Some(tci);
        }
        let d = self.data();
        if d.len() < 18 || d[12..14] != [0x81, 0x00] {
            return None;
        }
        let tci = u16::from_be_bytes([d[14], d[15]]);
        // SAFETY: the first segment holds at least 18 bytes (checked
        // above); the 12 address bytes move 4 bytes up inside it
        // (overlapping copy), and the data then starts 4 bytes later, as
        // rte_pktmbuf_adj(m, 4) leaves it. We own the mbuf.
        unsafe {
            let m = self.raw.as_mut();
            let p = (m.buf_addr as *mut u8).add(usize::from(m.data_off));
            std::ptr::copy(p, p.add(4), 12);
            m.data_off += 4;
            m.data_len -= 4;
            m.pkt_len -= 4;
            m.vlan_tci = tci;
            m.ol_flags |= RX_VLAN | RX_VLAN_STRIPPED;
        }
        Some(tci)
    }

    /// Removes `n` bytes from the front of the frame, as
    /// `rte_pktmbuf_adj` does; false (and nothing changed) when its first
    /// segment is not that long.
    #[inline]
    pub fn adj(&mut self, n: u16) -> bool {
        // SAFETY: plain fields of a valid mbuf we own; the data start moves
        // forward inside the data it already had.
        let m = unsafe { self.raw.as_mut() };
        if m.data_len < n {
            return false;
        }
        m.data_off += n;
        m.data_len -= n;
        m.pkt_len -= u32::from(n);
        true
    }

    /// The TCI of the 802.1Q tag stripped from this frame (by the device
    /// or [`Mbuf::vlan_strip`]), None when none was.
    #[inline]
    pub fn vlan_tci(&self) -> Option<u16> {
        // SAFETY: reads plain fields of a valid mbuf.
        let m = unsafe { self.raw.as_ref() };
        (m.ol_flags & RX_VLAN_STRIPPED != 0).then_some(m.vlan_tci)
    }

    /// Tags the frame with 802.1Q TCI `tci` for transmission: by the
    /// device (`RTE_MBUF_F_TX_VLAN`) when `offload`, which the port must
    /// have enabled, else in the data, as `rte_vlan_insert` does (4 bytes
    /// of headroom taken). False, with the frame unchanged, when there is
    /// no headroom.
    #[inline]
    pub fn vlan_insert(&mut self, tci: u16, offload: bool) -> bool {
        // SAFETY: writes plain fields of a valid mbuf we own.
        let m = unsafe { self.raw.as_mut() };
        m.ol_flags &= !(RX_VLAN | RX_VLAN_STRIPPED | TX_VLAN);
        if offload {
            m.ol_flags |= TX_VLAN;
            m.vlan_tci = tci;
            return true;
        }
        if m.data_off < 4 || m.data_len < 12 {
            return false;
        }
        // SAFETY: 4 bytes of headroom precede the data (checked above) and
        // the first segment holds at least 12 bytes; the MAC addresses move
        // 4 bytes down (overlapping copy) and the tag fills the gap, inside
        // the buffer of an mbuf we own (rte_pktmbuf_prepend(m, 4)).
        unsafe {
            let p = (m.buf_addr as *mut u8).add(usize::from(m.data_off));
            std::ptr::copy(p, p.sub(4), 12);
            let tag = [0x81, 0x00, (tci >> 8) as u8, tci as u8];
            std::ptr::copy_nonoverlapping(tag.as_ptr(), p.add(8), 4);
            m.data_off -= 4;
            m.data_len += 4;
            m.pkt_len += 4;
        }
        true
    }

    /// The DPDK port id the packet arrived on.
    #[inline]
    pub fn port(&self) -> u16 {
        // SAFETY: reads a plain field of a valid mbuf.
        unsafe { self.raw.as_ref().port }
    }

    /// Writes the punt stamp (see [`register_punt_stamp`]); does nothing
    /// when the field is not registered.
    #[inline]
    pub fn set_punt_stamp(&mut self, v: u64) {
        let off = PUNT_STAMP.load(Ordering::Relaxed);
        if off >= 0 {
            // SAFETY: `off` is the offset DPDK assigned to our registered
            // 8-byte field inside every mbuf; we own the mbuf.
            unsafe { ffi::glbpd_punt_stamp_set(self.raw.as_ptr(), off, v) }
        }
    }

    /// The punt stamp a worker wrote, or None when the field is not
    /// registered.
    #[inline]
    pub fn punt_stamp(&self) -> Option<u64> {
        let off = PUNT_STAMP.load(Ordering::Relaxed);
        // SAFETY: as in set_punt_stamp; reading 8 bytes inside our mbuf.
        (off >= 0).then(|| unsafe { ffi::glbpd_punt_stamp_get(self.raw.as_ptr(), off) })
    }
}

/// The device's verdict on a received frame's IPv4 header checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RxCksum {
    /// No information: verify in software.
    Unknown,
    /// Checked by the device and correct.
    Good,
    /// Checked by the device and wrong.
    Bad,
    /// Not correct in the packet but valid in the data (never for IPv4
    /// headers received from a wire; treated as unknown by glbpd).
    None,
}

// RTE_MBUF_F_RX_IP_CKSUM_* (rte_mbuf_core.h, DPDK 22.11): plain 64-bit
// masks, stable ABI.
const RX_IP_CKSUM_MASK: u64 = (1 << 4) | (1 << 7);
const RX_IP_CKSUM_BAD: u64 = 1 << 4;
const RX_IP_CKSUM_GOOD: u64 = 1 << 7;
// RTE_MBUF_F_RX_VLAN, RTE_MBUF_F_RX_VLAN_STRIPPED, RTE_MBUF_F_TX_VLAN.
const RX_VLAN: u64 = 1 << 0;
const RX_VLAN_STRIPPED: u64 = 1 << 6;
const TX_VLAN: u64 = 1 << 57;

/// Offset of the `glbpd_punt_stamp` dynamic field, -1 until registered.
static PUNT_STAMP: AtomicI32 = AtomicI32::new(-1);

/// Registers the 64-bit per-mbuf field in which workers stamp the frames
/// they punt to the control lcore (TSC and class, see the runtime). Call
/// after EAL starts and before the mempool is created; idempotent.
pub fn register_punt_stamp() -> Result<()> {
    // SAFETY: registers a named dynamic field; EAL is initialised (the
    // caller holds an Eal), and DPDK serialises registrations itself.
    let off = unsafe { ffi::glbpd_punt_stamp_register() };
    if off < 0 {
        return Err(Error::Errno {
            op: "rte_mbuf_dynfield_register(glbpd_punt_stamp)",
            errno: rte_errno(),
        });
    }
    PUNT_STAMP.store(off, Ordering::Relaxed);
    Ok(())
}

impl Drop for Mbuf {
    fn drop(&mut self) {
        // SAFETY: we own the mbuf; rte_pktmbuf_free frees all segments.
        unsafe { ffi::rte_pktmbuf_free(self.raw.as_ptr()) }
    }
}

impl std::fmt::Debug for Mbuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Mbuf({} bytes)", self.pkt_len())
    }
}

/// A fixed-capacity array of owned mbufs, filled by RX and drained by TX,
/// without allocation. Mbufs left in it are freed on drop.
pub struct Burst {
    pkts: [*mut ffi::rte_mbuf; MAX_BURST],
    len: usize,
}

// SAFETY: a Burst owns its mbufs exclusively (see Mbuf's Send).
unsafe impl Send for Burst {}

impl Default for Burst {
    fn default() -> Self {
        Burst::new()
    }
}

impl Burst {
    pub const fn new() -> Burst {
        Burst {
            pkts: [std::ptr::null_mut(); MAX_BURST],
            len: 0,
        }
    }
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    #[inline]
    pub fn is_full(&self) -> bool {
        self.len == MAX_BURST
    }
    /// Appends an mbuf; gives it back when the burst is full.
    #[inline]
    pub fn push(&mut self, m: Mbuf) -> std::result::Result<(), Mbuf> {
        if self.len == MAX_BURST {
            return Err(m);
        }
        self.pkts[self.len] = m.into_raw();
        self.len += 1;
        Ok(())
    }
    /// Moves every mbuf out, in order, leaving the burst empty. Mbufs the
    /// iterator does not reach are freed when it is dropped.
    #[inline]
    pub fn drain(&mut self) -> Drain<'_> {
        let end = std::mem::take(&mut self.len);
        Drain {
            pkts: &self.pkts[..end],
            next: 0,
        }
    }
    /// Moves the mbufs of `from` to the end of this burst, in order, as
    /// many as fit; the rest stay in `from` (moved to its front). Returns
    /// how many moved.
    #[inline]
    pub fn append(&mut self, from: &mut Burst) -> usize {
        let n = from.len.min(MAX_BURST - self.len);
        self.pkts[self.len..self.len + n].copy_from_slice(&from.pkts[..n]);
        self.len += n;
        // The moved pointers now belong to `self` only.
        from.consume_front(n);
        n
    }
    /// The mbufs held, lent as a slice (in order): a worker can look at and
    /// rewrite a whole burst before it decides where each mbuf goes.
    #[inline]
    pub fn as_mut_slice(&mut self) -> &mut [Mbuf] {
        // SAFETY: the first `len` slots hold valid, non-null mbufs owned by
        // the burst, and Mbuf is a repr(transparent) NonNull<rte_mbuf>, the
        // same layout as a non-null `*mut rte_mbuf`. The slice borrows the
        // burst mutably, so no slot is read or drained meanwhile; whatever
        // the caller swaps into a slot is an owned Mbuf, so every slot still
        // holds exactly one owned mbuf afterwards.
        unsafe { std::slice::from_raw_parts_mut(self.pkts.as_mut_ptr().cast::<Mbuf>(), self.len) }
    }
    /// Packet lengths of the mbufs held, in order.
    #[inline]
    pub fn iter_lens(&self) -> impl Iterator<Item = u32> + '_ {
        self.pkts[..self.len].iter().map(|&p| {
            // SAFETY: the first len slots hold valid mbufs owned by the burst.
            unsafe { (*p).pkt_len }
        })
    }
    /// Raw slot array for RX: the caller fills slots `len..` and reports how
    /// many it filled through `set_filled`.
    #[inline]
    pub(crate) fn spare_raw(&mut self) -> (*mut *mut ffi::rte_mbuf, u16) {
        // SAFETY: len <= MAX_BURST, so the offset stays inside the array.
        (
            unsafe { self.pkts.as_mut_ptr().add(self.len) },
            (MAX_BURST - self.len) as u16,
        )
    }
    #[inline]
    pub(crate) fn set_filled(&mut self, n: usize) {
        debug_assert!(self.len + n <= MAX_BURST);
        self.len = (self.len + n).min(MAX_BURST);
    }
    /// The first `len` raw pointers, for TX.
    #[inline]
    pub(crate) fn raw(&mut self) -> (*mut *mut ffi::rte_mbuf, u16) {
        (self.pkts.as_mut_ptr(), self.len as u16)
    }
    /// Drops the first `n` slots (they were handed to DPDK) and shifts the
    /// rest to the front.
    #[inline]
    pub(crate) fn consume_front(&mut self, n: usize) {
        let n = n.min(self.len);
        self.pkts.copy_within(n..self.len, 0);
        self.len -= n;
    }
}

impl Drop for Burst {
    fn drop(&mut self) {
        for m in self.drain() {
            drop(m);
        }
    }
}

/// Iterator returned by [`Burst::drain`].
pub struct Drain<'a> {
    pkts: &'a [*mut ffi::rte_mbuf],
    next: usize,
}

impl Iterator for Drain<'_> {
    type Item = Mbuf;
    #[inline]
    fn next(&mut self) -> Option<Mbuf> {
        let p = *self.pkts.get(self.next)?;
        self.next += 1;
        // SAFETY: the slots of `pkts` hold mbufs the burst owned; the burst's
        // len is already 0 and `next` only grows, so each is handed out once.
        Some(unsafe { Mbuf::from_raw(NonNull::new_unchecked(p)) })
    }
}

impl Drop for Drain<'_> {
    fn drop(&mut self) {
        for m in self.by_ref() {
            drop(m);
        }
    }
}
