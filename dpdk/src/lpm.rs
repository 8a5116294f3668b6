use std::net::{Ipv4Addr, Ipv6Addr};
use std::ptr::NonNull;

use dpdk_ffi as ffi;

use super::error::{check, cstring, non_null, Result};

/// An IPv4 longest-prefix-match table (`rte_lpm`). Lookups take `&self`
/// and may run on many lcores at once; changes take `&mut self`, so a table
/// is never modified while a worker reads it (glbpd publishes a new table
/// instead).
pub struct Lpm {
    raw: NonNull<ffi::rte_lpm>,
}

// SAFETY: rte_lpm lookups only read the table; concurrent lookups are safe,
// and mutation requires &mut (exclusive access).
unsafe impl Send for Lpm {}
// SAFETY: as above.
unsafe impl Sync for Lpm {}

impl Lpm {
    /// Creates a table for `max_rules` prefixes with `tbl8s` groups for
    /// prefixes longer than /24.
    pub fn new(name: &str, max_rules: u32, tbl8s: u32, socket: i32) -> Result<Lpm> {
        let c = cstring("rte_lpm_create", name)?;
        let conf = ffi::rte_lpm_config {
            max_rules,
            number_tbl8s: tbl8s,
            flags: 0,
        };
        // SAFETY: valid name and config pointers.
        let p = unsafe { ffi::rte_lpm_create(c.as_ptr(), socket, &conf) };
        Ok(Lpm {
            raw: non_null("rte_lpm_create", p)?,
        })
    }

    /// Adds (or replaces) `prefix/depth` → `next_hop` (24 bits). rte_lpm
    /// takes depths 1..=32, so a default route (/0) is stored as two /1.
    pub fn add(&mut self, prefix: Ipv4Addr, depth: u8, next_hop: u32) -> Result<()> {
        if depth == 0 {
            self.add(Ipv4Addr::new(0, 0, 0, 0), 1, next_hop)?;
            return self.add(Ipv4Addr::new(128, 0, 0, 0), 1, next_hop);
        }
        // SAFETY: exclusive access; DPDK validates depth and next hop.
        check("rte_lpm_add", unsafe {
            ffi::rte_lpm_add(self.raw.as_ptr(), u32::from(prefix), depth, next_hop)
        })?;
        Ok(())
    }

    /// Next hop for `ip`, if a prefix covers it.
    ///
    /// `rte_lpm_lookup` is a `static inline` C function: calling it through
    /// its generated wrapper costs an FFI call per packet, so its few lines
    /// are repeated here (DPDK 22.11 `rte_lpm.h`): one tbl24 entry, and a
    /// tbl8 entry when the tbl24 one points to a group. Debug builds check
    /// the result against the C function.
    #[inline]
    pub fn lookup(&self, ip: Ipv4Addr) -> Option<u32> {
        const VALID: u32 = 0x0100_0000; // RTE_LPM_LOOKUP_SUCCESS
        const VALID_EXT: u32 = 0x0300_0000; // RTE_LPM_VALID_EXT_ENTRY_BITMASK
        const TBL8_GROUP: usize = 256; // RTE_LPM_TBL8_GROUP_NUM_ENTRIES
        let ip = u32::from(ip);
        let lpm = self.raw.as_ptr();
        // SAFETY: tbl24 has 2^24 entries and `ip >> 8` < 2^24; an entry is
        // a 32-bit bitfield (next hop in bits 0..24, valid in bit 24, group
        // flag in bit 25), read as the u32 rte_lpm_lookup reads. The table
        // is only changed through &mut self, never while &self lookups run.
        let mut e = unsafe {
            let tbl24 = std::ptr::addr_of!((*lpm).tbl24) as *const u32;
            *tbl24.add((ip >> 8) as usize)
        };
        if e & VALID_EXT == VALID_EXT {
            let i = (ip & 0xff) as usize + (e & 0x00ff_ffff) as usize * TBL8_GROUP;
            // SAFETY: a valid tbl24 entry with the group flag holds the index
            // of an allocated tbl8 group of 256 entries (rte_lpm invariant).
            e = unsafe { *((*lpm).tbl8 as *const u32).add(i) };
        }
        let found = (e & VALID != 0).then_some(e & 0x00ff_ffff);
        debug_assert_eq!(found, self.lookup_c(Ipv4Addr::from(ip)));
        found
    }

    /// Next hops for a burst of addresses (host order): `out[i]` is the
    /// next hop of `ips[i]`, or [`Lpm::MISS`]. The lookups of a burst are
    /// independent loads, which the CPU overlaps (`rte_lpm_lookup_bulk`
    /// does the same in C). Only `min(ips.len(), out.len())` are done.
    #[inline]
    pub fn lookup_bulk(&self, ips: &[u32], out: &mut [u32]) {
        for (ip, o) in ips.iter().zip(out.iter_mut()) {
            *o = self.lookup(Ipv4Addr::from(*ip)).unwrap_or(Self::MISS);
        }
    }

    /// What [`Lpm::lookup_bulk`] writes for an address no prefix covers
    /// (next hops are 24 bits).
    pub const MISS: u32 = u32::MAX;

    /// Next hop for `ip` through DPDK's own `rte_lpm_lookup`.
    pub fn lookup_c(&self, ip: Ipv4Addr) -> Option<u32> {
        let mut nh = 0u32;
        // SAFETY: valid table and out pointer; lookups only read the table.
        let rc = unsafe { ffi::rte_lpm_lookup(self.raw.as_ptr(), u32::from(ip), &mut nh) };
        (rc == 0).then_some(nh)
    }
}

impl Drop for Lpm {
    fn drop(&mut self) {
        // SAFETY: exclusive access; no reader holds &self any more.
        unsafe { ffi::rte_lpm_free(self.raw.as_ptr()) }
    }
}

/// An IPv6 longest-prefix-match table (`rte_lpm6`), with the same
/// sharing rules as [`Lpm`].
pub struct Lpm6 {
    raw: NonNull<ffi::rte_lpm6>,
}

// SAFETY: rte_lpm6 lookups only read the table; concurrent lookups are
// safe, and mutation requires &mut (exclusive access).
unsafe impl Send for Lpm6 {}
// SAFETY: as above.
unsafe impl Sync for Lpm6 {}

impl Lpm6 {
    /// Creates a table for `max_rules` prefixes with `tbl8s` groups.
    pub fn new(name: &str, max_rules: u32, tbl8s: u32, socket: i32) -> Result<Lpm6> {
        let c = cstring("rte_lpm6_create", name)?;
        let conf = ffi::rte_lpm6_config {
            max_rules,
            number_tbl8s: tbl8s,
            flags: 0,
        };
        // SAFETY: valid name and config pointers.
        let p = unsafe { ffi::rte_lpm6_create(c.as_ptr(), socket, &conf) };
        Ok(Lpm6 {
            raw: non_null("rte_lpm6_create", p)?,
        })
    }

    /// Adds (or replaces) `prefix/depth` → `next_hop` (21 bits). rte_lpm6
    /// takes depths 1..=128, so a default route (/0) is stored as two /1.
    pub fn add(&mut self, prefix: Ipv6Addr, depth: u8, next_hop: u32) -> Result<()> {
        if depth == 0 {
            self.add(Ipv6Addr::UNSPECIFIED, 1, next_hop)?;
            return self.add(Ipv6Addr::new(0x8000, 0, 0, 0, 0, 0, 0, 0), 1, next_hop);
        }
        let ip = prefix.octets();
        // SAFETY: exclusive access; `ip` is 16 bytes; DPDK validates depth
        // and next hop.
        check("rte_lpm6_add", unsafe {
            ffi::rte_lpm6_add(self.raw.as_ptr(), ip.as_ptr(), depth, next_hop)
        })?;
        Ok(())
    }

    /// Next hop for `ip`, if a prefix covers it.
    #[inline]
    pub fn lookup(&self, ip: Ipv6Addr) -> Option<u32> {
        let ip = ip.octets();
        let mut nh = 0u32;
        // SAFETY: valid table, 16-byte address and out pointer; lookups
        // only read the table, which is changed only through &mut self.
        let rc = unsafe { ffi::rte_lpm6_lookup(self.raw.as_ptr(), ip.as_ptr(), &mut nh) };
        (rc == 0).then_some(nh)
    }

    /// Next hops for a burst of addresses: `out[i]` is the next hop of
    /// `ips[i]`, or [`Lpm::MISS`]. One call into `rte_lpm6_lookup_bulk_func`
    /// for the burst (rte_lpm6's lookups are not inline functions: a call
    /// per packet cost more than the lookup). Only `min(ips.len(),
    /// out.len())` are done.
    #[inline]
    pub fn lookup_bulk(&self, ips: &[[u8; 16]], out: &mut [u32]) {
        let n = ips.len().min(out.len());
        if n == 0 {
            return;
        }
        // SAFETY: valid table; `ips` and `out` hold at least `n` entries.
        // The function only reads `ips` (its C prototype lacks the const)
        // and writes `n` int32 next hops, -1 for a miss, which is
        // `Lpm::MISS` read as u32 (same size and alignment). Lookups only
        // read the table, which is changed only through &mut self.
        let rc = unsafe {
            ffi::rte_lpm6_lookup_bulk_func(
                self.raw.as_ptr(),
                ips.as_ptr().cast_mut(),
                out.as_mut_ptr().cast::<i32>(),
                n as u32,
            )
        };
        if rc != 0 {
            // Only for a null argument: not reached; say "no route".
            out[..n].fill(Lpm::MISS);
        }
    }
}

impl Drop for Lpm6 {
    fn drop(&mut self) {
        // SAFETY: exclusive access; no reader holds &self any more.
        unsafe { ffi::rte_lpm6_free(self.raw.as_ptr()) }
    }
}
