use std::ptr::NonNull;

use dpdk_ffi as ffi;

use super::error::{cstring, non_null, Result};
use super::mbuf::{Burst, Mbuf};

/// A bounded multi-producer/multi-consumer ring of owned mbufs
/// (`rte_ring`). Enqueue never blocks: a full ring hands the mbufs back.
pub struct MbufRing {
    raw: NonNull<ffi::rte_ring>,
}

// SAFETY: the ring is created without RING_F_SP_ENQ/RING_F_SC_DEQ, so DPDK
// makes every enqueue and dequeue safe from any number of threads.
unsafe impl Send for MbufRing {}
// SAFETY: as above.
unsafe impl Sync for MbufRing {}

impl MbufRing {
    /// Creates a ring holding up to `size - 1` mbufs (`size` a power of two).
    pub fn new(name: &str, size: u32, socket: i32) -> Result<MbufRing> {
        let c = cstring("rte_ring_create", name)?;
        // SAFETY: valid C string; flags 0 = multi-producer/multi-consumer.
        let p = unsafe { ffi::rte_ring_create(c.as_ptr(), size, socket, 0) };
        Ok(MbufRing {
            raw: non_null("rte_ring_create", p)?,
        })
    }

    /// Enqueues one mbuf, or gives it back when the ring is full.
    #[inline]
    pub fn enqueue(&self, m: Mbuf) -> std::result::Result<(), Mbuf> {
        let mut one = [m.into_raw().cast::<std::ffi::c_void>()];
        // SAFETY: `one` is a 1-element array of object pointers; the ring
        // takes ownership of the mbuf only if it reports 1 enqueued.
        let n = unsafe {
            ffi::rte_ring_enqueue_burst(
                self.raw.as_ptr(),
                one.as_mut_ptr(),
                1,
                std::ptr::null_mut(),
            )
        };
        if n == 1 {
            Ok(())
        } else {
            // SAFETY: not enqueued, so we still own it.
            Err(unsafe { Mbuf::from_raw(NonNull::new_unchecked(one[0].cast())) })
        }
    }

    /// Moves as many mbufs as fit from the front of `burst` into the ring.
    #[inline]
    pub fn enqueue_burst(&self, burst: &mut Burst) -> usize {
        let (pkts, n) = burst.raw();
        if n == 0 {
            return 0;
        }
        // SAFETY: pkts holds n owned mbuf pointers; the ring takes the first
        // `done`, which consume_front forgets.
        let done = unsafe {
            ffi::rte_ring_enqueue_burst(
                self.raw.as_ptr(),
                pkts.cast(),
                n as u32,
                std::ptr::null_mut(),
            )
        } as usize;
        burst.consume_front(done);
        done
    }

    /// Moves up to the burst's free room from the ring into `burst`.
    #[inline]
    pub fn dequeue_burst(&self, burst: &mut Burst) -> usize {
        let (slots, room) = burst.spare_raw();
        if room == 0 {
            return 0;
        }
        // SAFETY: slots has `room` writable pointer slots; every object in
        // the ring is an owned mbuf, now owned by the burst.
        let n = unsafe {
            ffi::rte_ring_dequeue_burst(
                self.raw.as_ptr(),
                slots.cast(),
                room as u32,
                std::ptr::null_mut(),
            )
        } as usize;
        burst.set_filled(n);
        n
    }

    /// Entries currently queued.
    #[inline]
    pub fn len(&self) -> u32 {
        // SAFETY: valid ring.
        unsafe { ffi::rte_ring_count(self.raw.as_ptr()) }
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for MbufRing {
    fn drop(&mut self) {
        let mut b = Burst::new();
        while self.dequeue_burst(&mut b) > 0 {
            b.drain().for_each(drop);
        }
        // SAFETY: the ring is empty and no other handle exists (&mut self).
        unsafe { ffi::rte_ring_free(self.raw.as_ptr()) }
    }
}
