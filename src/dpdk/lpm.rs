use std::net::Ipv4Addr;
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

    pub fn delete(&mut self, prefix: Ipv4Addr, depth: u8) -> Result<()> {
        if depth == 0 {
            self.delete(Ipv4Addr::new(0, 0, 0, 0), 1)?;
            return self.delete(Ipv4Addr::new(128, 0, 0, 0), 1);
        }
        // SAFETY: exclusive access.
        check("rte_lpm_delete", unsafe {
            ffi::rte_lpm_delete(self.raw.as_ptr(), u32::from(prefix), depth)
        })?;
        Ok(())
    }

    /// Next hop for `ip`, if a prefix covers it.
    #[inline]
    pub fn lookup(&self, ip: Ipv4Addr) -> Option<u32> {
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
