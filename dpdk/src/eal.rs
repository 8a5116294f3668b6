use std::ffi::{c_void, CStr};
use std::os::raw::{c_char, c_int};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use dpdk_ffi as ffi;

use super::error::{check, cstring, rte_errno, Error, Result};

static EAL_STARTED: AtomicBool = AtomicBool::new(false);

/// The running Environment Abstraction Layer of this process.
///
/// `rte_eal_init` can run once per process, and never again after
/// `rte_eal_cleanup`; `Eal::init` enforces that. Dropping the `Eal` cleans
/// up DPDK. It does not remove the runtime folder
/// (`/var/run/dpdk/<file-prefix>`): that belongs to whoever holds the
/// instance lock in it (`runtime::instance::InstanceLock`), which removes
/// it after EAL is gone.
pub struct Eal {
    runtime_dir: Option<PathBuf>,
    /// EAL belongs to the main lcore: not Send, not Sync.
    _main_only: std::marker::PhantomData<*const ()>,
}

impl Eal {
    /// Starts EAL with `args` (without the program name).
    pub fn init<S: AsRef<str>>(args: &[S]) -> Result<Eal> {
        if EAL_STARTED.swap(true, Ordering::SeqCst) {
            return Err(Error::Invalid {
                op: "rte_eal_init",
                what: "EAL can start only once per process".into(),
            });
        }
        let mut owned = vec![cstring("rte_eal_init", "glbpd")?];
        for a in args {
            owned.push(cstring("rte_eal_init", a.as_ref())?);
        }
        // EAL may keep pointers into argv for the life of the process, so the
        // strings are leaked on purpose (this runs once per process).
        let mut argv: Vec<*mut c_char> = owned.into_iter().map(|c| c.into_raw()).collect();
        let argc = argv.len() as c_int;
        argv.push(std::ptr::null_mut());
        let argv = Box::leak(argv.into_boxed_slice());
        // SAFETY: argv is a NULL-terminated array of argc valid, NUL-terminated
        // strings that live for the rest of the process; EAL has not run yet.
        let rc = unsafe { ffi::rte_eal_init(argc, argv.as_mut_ptr()) };
        if rc < 0 {
            return Err(Error::Errno {
                op: "rte_eal_init",
                errno: rte_errno(),
            });
        }
        // SAFETY: EAL is initialised; the returned pointer is a static
        // NUL-terminated string owned by EAL, copied out at once.
        let dir = unsafe { CStr::from_ptr(ffi::rte_eal_get_runtime_dir()) };
        let dir = dir.to_string_lossy().into_owned();
        Ok(Eal {
            runtime_dir: (!dir.is_empty()).then(|| PathBuf::from(dir)),
            _main_only: std::marker::PhantomData,
        })
    }

    /// The runtime folder EAL uses for this process.
    pub fn runtime_dir(&self) -> Option<&std::path::Path> {
        self.runtime_dir.as_deref()
    }

    /// Id of the main lcore (the thread that called `init`).
    pub fn main_lcore(&self) -> u32 {
        // SAFETY: EAL is initialised (self exists); plain getter.
        unsafe { ffi::rte_get_main_lcore() }
    }

    /// Ids of the worker lcores, in order.
    pub fn worker_lcores(&self) -> Vec<u32> {
        let mut out = Vec::new();
        let mut i = u32::MAX; // -1: start from the first
        loop {
            // SAFETY: EAL is initialised; rte_get_next_lcore only reads the
            // lcore configuration.
            i = unsafe { ffi::rte_get_next_lcore(i, 1, 0) };
            // SAFETY: shim returning the RTE_MAX_LCORE constant.
            if i >= unsafe { ffi::glbpd_rte_max_lcore() } {
                break;
            }
            out.push(i);
        }
        out
    }

    /// Runs `f` on worker lcore `lcore`. The returned handle waits for it.
    pub fn launch<F>(&self, lcore: u32, f: F) -> Result<LaunchHandle<'_>>
    where
        F: FnOnce() -> i32 + Send + 'static,
    {
        type Job = Box<dyn FnOnce() -> i32 + Send>;
        extern "C" fn trampoline(arg: *mut c_void) -> c_int {
            // SAFETY: arg is the Box<Job> leaked by `launch` below, passed to
            // exactly one lcore, and reclaimed here exactly once.
            let job: Box<Job> = unsafe { Box::from_raw(arg.cast::<Job>()) };
            // A panic must not unwind into C: report it as -1.
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).unwrap_or(-1)
        }
        let job: Box<Job> = Box::new(Box::new(f));
        let arg = Box::into_raw(job).cast::<c_void>();
        // SAFETY: trampoline has the lcore_function_t signature and takes
        // ownership of arg; EAL is initialised.
        let rc = unsafe { ffi::rte_eal_remote_launch(Some(trampoline), arg, lcore) };
        if rc < 0 {
            // SAFETY: the launch failed, so the trampoline never ran and we
            // still own arg.
            drop(unsafe { Box::from_raw(arg.cast::<Job>()) });
            check("rte_eal_remote_launch", rc)?;
        }
        Ok(LaunchHandle {
            lcore,
            done: None,
            _eal: self,
        })
    }
}

impl Drop for Eal {
    fn drop(&mut self) {
        // SAFETY: every LaunchHandle borrows the Eal, so all lcores have been
        // waited for; nothing uses DPDK after this.
        let rc = unsafe { ffi::rte_eal_cleanup() };
        if rc < 0 {
            log::warn!("rte_eal_cleanup failed: {}", super::error::strerror(-rc));
        }
    }
}

/// A job running on a worker lcore; waits for it when dropped.
pub struct LaunchHandle<'a> {
    lcore: u32,
    done: Option<i32>,
    _eal: &'a Eal,
}

impl LaunchHandle<'_> {
    pub fn lcore(&self) -> u32 {
        self.lcore
    }
    /// Waits for the job and returns its return value (-1 if it panicked).
    pub fn wait(mut self) -> i32 {
        self.wait_inner()
    }
    fn wait_inner(&mut self) -> i32 {
        if let Some(rc) = self.done {
            return rc;
        }
        // SAFETY: called on the main lcore (the Eal is not Send) for an lcore
        // this handle launched.
        let rc = unsafe { ffi::rte_eal_wait_lcore(self.lcore) };
        self.done = Some(rc);
        rc
    }
}

impl Drop for LaunchHandle<'_> {
    fn drop(&mut self) {
        self.wait_inner();
    }
}

/// DPDK's `RTE_MAX_LCORE`: every lcore id is below it. Needs no EAL.
pub fn max_lcore() -> u32 {
    // SAFETY: shim returning the RTE_MAX_LCORE constant.
    unsafe { ffi::glbpd_rte_max_lcore() }
}

/// The calling thread's lcore id (`u32::MAX` for a non-EAL thread).
#[inline]
pub fn lcore_id() -> u32 {
    // SAFETY: reads a thread-local through the shim.
    unsafe { ffi::glbpd_rte_lcore_id() }
}

/// The time-stamp counter.
#[inline]
pub fn tsc() -> u64 {
    // rte_rdtsc is `static inline`: through its generated wrapper it is a
    // function call; on x86-64 the instruction itself is read here.
    #[cfg(target_arch = "x86_64")]
    // SAFETY: rdtsc has no memory effects and exists on every x86-64 CPU.
    return unsafe { std::arch::x86_64::_rdtsc() };
    #[cfg(not(target_arch = "x86_64"))]
    // SAFETY: rte_rdtsc only reads the CPU's cycle counter.
    return unsafe { ffi::rte_rdtsc() };
}

/// TSC ticks per second, as measured by EAL (0 before EAL starts).
#[inline]
pub fn tsc_hz() -> u64 {
    // SAFETY: plain getter of a value EAL computed at init.
    unsafe { ffi::rte_get_tsc_hz() }
}

/// DPDK's version string, e.g. "DPDK 22.11.11".
pub fn version() -> String {
    // SAFETY: returns a pointer to a static NUL-terminated string.
    unsafe { CStr::from_ptr(ffi::glbpd_rte_version()) }
        .to_string_lossy()
        .into_owned()
}
