//! The runtime: starts EAL from the configuration, brings up the ports,
//! launches one poll-mode worker per worker lcore and runs the control loop
//! on the main lcore until asked to stop.

pub mod control;
pub mod dataplane;
pub mod instance;
pub mod ops;

use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;

use crossbeam::queue::ArrayQueue;

use crate::config::{lcores, Config};
use crate::dpdk::{self, Eal, Lpm, MbufRing, Mempool, Port, PortConf};
use crate::wire::{glbp, MacAddr};
use control::neighbors::Neighbors;
use control::{Control, ControlParts, CtlPort};
use dataplane::counters::{ArpClients, Counts, Shared};
use dataplane::state::{DataplaneState, FxMap, PortView};
use dataplane::worker::{TxPath, Worker};

/// Why the runtime could not start.
#[derive(Debug)]
pub struct RunError(pub String);

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RunError {}

impl From<dpdk::Error> for RunError {
    fn from(e: dpdk::Error) -> Self {
        RunError(e.to_string())
    }
}

fn err<T>(msg: impl Into<String>) -> Result<T, RunError> {
    Err(RunError(msg.into()))
}

/// The EAL arguments glbpd derives from the config, followed by
/// `eal.args`.
pub fn eal_args(cfg: &Config) -> Vec<String> {
    let mut a = vec!["--file-prefix".to_string(), cfg.eal.file_prefix.clone()];
    let user_sets_cores = lcores::from_args(&cfg.eal.args).is_some();
    if let Some(l) = &cfg.eal.lcores {
        let opt = if lcores::is_lcore_map(l) {
            "--lcores"
        } else {
            "-l"
        };
        a.extend([opt.into(), l.clone()]);
    } else if !user_sets_cores {
        let want = usize::from(cfg.dataplane.workers) + 1;
        // The CPUs this process may run on (a taskset or cpuset may leave
        // out CPU 0), else all of them.
        let cpus = lcores::allowed_cpus().unwrap_or_else(|| {
            let n = std::thread::available_parallelism().map_or(1, |n| n.get());
            (0..n as u32).collect()
        });
        if want <= cpus.len() {
            let first = cpus.iter().copied().take(want).collect();
            a.extend(["-l".into(), lcores::format_list(&first)]);
        } else {
            // More lcores than CPUs: let them float over all CPUs.
            a.extend([
                "--lcores".into(),
                format!("(0-{})@({})", want - 1, lcores::format_list(&cpus)),
            ]);
        }
    }
    for p in &cfg.ports {
        if p.is_pci() {
            a.extend(["-a".into(), p.device.clone()]);
        } else {
            a.extend(["--vdev".into(), p.device.clone()]);
        }
    }
    a.extend(cfg.eal.args.iter().cloned());
    a
}

/// Normalises a PCI address to the `DDDD:BB:DD.F` form DPDK names ports by.
fn port_lookup_name(cfg_port: &crate::config::PortConfig) -> String {
    let n = cfg_port.device_name();
    if cfg_port.is_pci() && n.matches(':').count() == 1 {
        format!("0000:{n}")
    } else {
        n.to_string()
    }
}

/// A name no other LPM table of this process has (rte_lpm names are unique).
pub(crate) fn lpm_name() -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    format!("glbpd_lpm_{}", N.fetch_add(1, Ordering::Relaxed))
}

/// What the binary's signal handlers set.
#[derive(Clone, Default)]
pub struct Signals {
    /// SIGINT/SIGTERM: resign and stop.
    pub stop: Arc<AtomicBool>,
    /// SIGHUP: reload the configuration file.
    pub reload: Arc<AtomicBool>,
}

/// Builds a dataplane snapshot from the config and the ports' MACs.
/// The LPM table and next hops of `cfg`: connected port networks and
/// static routes. Used at start and by a reload that changes routes.
pub(crate) fn build_routes(cfg: &Config) -> Result<(Lpm, Vec<dataplane::state::NextHop>), String> {
    let port_nets: Vec<_> = cfg
        .ports
        .iter()
        .enumerate()
        .map(|(i, p)| (p.address, i as u16))
        .collect();
    let statics: Vec<_> = cfg.routes.iter().map(|r| (r.prefix, r.via)).collect();
    let (entries, next_hops) = dataplane::state::route_entries(&port_nets, &statics);
    let mut lpm = Lpm::new(&lpm_name(), (entries.len() as u32 + 16).max(256), 256, -1)
        .map_err(|e| e.to_string())?;
    for (net, nh) in &entries {
        lpm.add(net.addr, net.len, *nh)
            .map_err(|e| format!("route {net}: {e}"))?;
    }
    Ok((lpm, next_hops))
}

fn build_state(
    cfg: &Config,
    macs: &[MacAddr],
    generation: u64,
) -> Result<DataplaneState, RunError> {
    let (lpm, next_hops) = build_routes(cfg).map_err(RunError)?;
    let ports = cfg
        .ports
        .iter()
        .zip(macs)
        .map(|(p, mac)| {
            let mut neighbors = FxMap::default();
            for n in cfg.neighbors.iter().filter(|n| n.port == p.name) {
                neighbors.insert(n.ip, n.mac);
            }
            PortView {
                name: p.name.clone(),
                mac: *mac,
                addr: p.address,
                vmacs: Vec::new(),
                neighbors,
                avg: Vec::new(),
                silent: Vec::new(),
                link_up: true,
                revalidate: Vec::new(),
            }
        })
        .collect();
    Ok(DataplaneState {
        generation,
        ports,
        routes: Arc::new(lpm),
        next_hops,
    })
}

/// Runs glbpd until `signals.stop` is set. `path` is re-read on
/// `signals.reload` and on the `/glbp/reload` telemetry command. `lock`
/// is the prefix's instance lock: held until EAL is gone, then dropped,
/// which removes the runtime folder. Returns the final counters.
pub fn run(
    cfg: &Config,
    path: &Path,
    signals: Signals,
    lock: instance::InstanceLock,
) -> Result<Counts, RunError> {
    let stop = signals.stop.clone();
    let args = eal_args(cfg);
    log::info!("starting EAL: {}", args.join(" "));
    let eal = Eal::init(&args)?;
    log::info!("{} on main lcore {}", dpdk::version(), eal.main_lcore());
    if eal.runtime_dir() != Some(lock.dir()) {
        log::warn!(
            "EAL's runtime folder {:?} is not the locked {}: glbpd show and reload will not find this instance",
            eal.runtime_dir(),
            lock.dir().display()
        );
    }

    let workers = usize::from(cfg.dataplane.workers);
    let lcores = eal.worker_lcores();
    if lcores.len() < workers {
        return err(format!(
            "dataplane.workers = {workers} needs {workers} worker lcores but EAL has {}; \
             give EAL more lcores (eal.lcores = \"0-{workers}\")",
            lcores.len()
        ));
    }

    // Ports, their queues and the mempool.
    let d = &cfg.dataplane;
    let mut plan = Vec::new();
    for p in &cfg.ports {
        let name = port_lookup_name(p);
        let id = Port::id_by_name(&name).map_err(|e| {
            RunError(format!(
                "port {}: device {name:?} was not probed by EAL: {e}",
                p.name
            ))
        })?;
        let info = Port::dev_info(id)?;
        let nrx = (workers as u16).min(info.max_rx_queues).max(1);
        let ntx = (workers as u16 + 1).min(info.max_tx_queues).max(1);
        if nrx < workers as u16 {
            log::warn!("port {}: driver {} offers {nrx} RX queues for {workers} workers; the others do not poll it", p.name, info.driver);
        }
        if ntx <= workers as u16 {
            log::warn!(
                "port {}: driver {} offers {ntx} TX queues for {workers} workers + control; the rest hand frames to the owner of queue 0 through a ring",
                p.name,
                info.driver
            );
        }
        plan.push((id, nrx, ntx, info));
    }
    let per_port: u32 = plan
        .iter()
        .map(|(_, nrx, ntx, _)| {
            u32::from(*nrx) * u32::from(d.rx_desc) + u32::from(*ntx) * u32::from(d.tx_desc)
        })
        .sum();
    let needed =
        per_port + (workers as u32 + 1) * (512 + 2 * dpdk::MAX_BURST as u32) + 2 * d.exception_ring;
    let nmbufs = if d.mbufs < needed {
        log::warn!(
            "dataplane.mbufs = {} is below the {needed} the queues can hold; using {needed}",
            d.mbufs
        );
        needed
    } else {
        d.mbufs
    };
    // Workers stamp punted frames so the control lcore can time them.
    if let Err(e) = dpdk::register_punt_stamp() {
        log::warn!("punt latency not measured: {e}");
    }
    let pool = Arc::new(Mempool::new("glbpd_mbufs", nmbufs, 256, 0, -1)?);

    let mut ports = Vec::new();
    let mut macs = Vec::new();
    for (p, (id, nrx, ntx, _info)) in cfg.ports.iter().zip(&plan) {
        let conf = PortConf {
            rx_queues: *nrx,
            tx_queues: *ntx,
            rx_desc: d.rx_desc,
            tx_desc: d.tx_desc,
            rss: p.rss,
            mtu: p.mtu,
        };
        let port = Port::start(*id, &p.name, &conf, pool.clone())?;
        let mac = match p.mac {
            None => MacAddr(port.mac()?),
            Some(mac) => match port.set_mac(mac.0) {
                Ok(()) => mac,
                Err(e) => {
                    // The device keeps its own address: receive for the
                    // configured one through the filter, and use it as our
                    // source anyway.
                    log::warn!(
                        "port {}: cannot set MAC {mac} ({e}); adding it to the receive filter",
                        p.name
                    );
                    receive_for(&port, mac);
                    mac
                }
            },
        };
        join_glbp_multicast(&port);
        log::info!(
            "port {} ({}) up: id {id}, mac {mac}, {}, {nrx} rx / {ntx} tx queues",
            p.name,
            p.device,
            p.address,
        );
        macs.push(mac);
        ports.push(port);
    }

    let state = Arc::new(ArcSwap::from_pointee(build_state(cfg, &macs, 1)?));
    let exception = Arc::new(MbufRing::new("glbpd_exc", d.exception_ring, -1)?);
    let glbp_ring = Arc::new(MbufRing::new("glbpd_glbp", d.exception_ring, -1)?);
    let resolve = Arc::new(ArrayQueue::new(1024));
    // One hand-off ring per port where some lcore lacks a TX queue.
    let handoff: Vec<Option<Arc<MbufRing>>> = plan
        .iter()
        .enumerate()
        .map(|(i, (_, _, ntx, _))| {
            if usize::from(*ntx) <= workers {
                MbufRing::new(&format!("glbpd_tx{i}"), 1024, -1).map(|r| Some(Arc::new(r)))
            } else {
                Ok(None)
            }
        })
        .collect::<Result<_, _>>()?;

    let control_counters = Arc::new(Shared::new(ports.len()));
    let worker_counters: Vec<Arc<Shared>> = (0..workers)
        .map(|_| Arc::new(Shared::new(ports.len())))
        .collect();
    let worker_clients: Vec<Arc<ArpClients>> = (0..workers)
        .map(|_| Arc::new(ArpClients::new(ports.len())))
        .collect();
    // One millisecond clock for the control lcore (Instant) and the
    // workers (TSC), so that the client cache the workers stamp ages the
    // same way in `show glbp`.
    let epoch = Instant::now();
    let clock = (dpdk::tsc(), (dpdk::tsc_hz() / 1000).max(1));
    let worker_stop = Arc::new(AtomicBool::new(false));

    let mut handles = Vec::new();
    // Declared after `handles`, so dropped before them: any early return
    // from here on stops the workers before their handles wait for them.
    let _stop_workers = StopOnDrop(worker_stop.clone());
    for (w, lcore) in lcores.iter().take(workers).enumerate() {
        let mut rx = Vec::new();
        let mut tx = Vec::new();
        let mut handoff_in = Vec::new();
        for (pi, (port, (_, nrx, ntx, _))) in ports.iter().zip(&plan).enumerate() {
            if w < usize::from(*nrx) {
                rx.push((pi, port.rx_queue(w as u16)?));
            }
            if w < usize::from(*ntx) {
                tx.push(TxPath::Queue(port.tx_queue(w as u16)?));
            } else {
                tx.push(TxPath::Handoff(
                    handoff[pi]
                        .clone()
                        .expect("hand-off ring exists when queues are short"),
                ));
            }
            if w == 0 {
                if let Some(r) = &handoff[pi] {
                    handoff_in.push((pi, r.clone()));
                }
            }
        }
        let worker = Worker {
            index: w,
            rx,
            tx,
            handoff_in,
            exception: exception.clone(),
            glbp: glbp_ring.clone(),
            policers: worker_policers(&cfg.control_plane, workers),
            resolve: resolve.clone(),
            state: state.clone(),
            counters: worker_counters[w].clone(),
            clients: worker_clients[w].clone(),
            stop: worker_stop.clone(),
            idle: d.idle,
            burst: usize::from(d.burst),
            clock,
        };
        log::info!("worker {w} on lcore {lcore}");
        handles.push(eal.launch(*lcore, move || worker.run())?);
    }

    // The control lcore's own TX paths.
    let mut ctl_tx: Vec<TxPath> = Vec::new();
    for (pi, (port, (_, _, ntx, _))) in ports.iter().zip(&plan).enumerate() {
        if usize::from(*ntx) > workers {
            ctl_tx.push(TxPath::Queue(port.tx_queue(workers as u16)?));
        } else {
            ctl_tx.push(TxPath::Handoff(
                handoff[pi]
                    .clone()
                    .expect("hand-off ring exists when queues are short"),
            ));
        }
    }

    let mut neighbors = Neighbors::default();
    for n in &cfg.neighbors {
        if let Some(pi) = cfg.ports.iter().position(|p| p.name == n.port) {
            neighbors.add_static(pi as u16, n.ip, n.mac);
        }
    }
    let ctl_ports = cfg
        .ports
        .iter()
        .zip(&ports)
        .zip(&macs)
        .map(|((c, p), mac)| CtlPort {
            name: c.name.clone(),
            dpdk_id: p.id(),
            mac: *mac,
            addr: c.address,
            port: p.clone(),
            kernel_if: control::kernel_iface(&c.device),
            glbp: Default::default(),
        })
        .collect();
    let mut ctl = Control::new(ControlParts {
        ports: ctl_ports,
        pool: pool.clone(),
        exception: exception.clone(),
        glbp: glbp_ring.clone(),
        control_plane: cfg.control_plane.clone(),
        tx: ctl_tx,
        neighbors,
        resolve,
        state: state.clone(),
        epoch,
    });
    ctl.glbp_configure(cfg).map_err(RunError)?;

    // Operations: status for `glbpd show`, telemetry and Prometheus.
    let workers_info: Vec<(u32, Arc<Shared>, Arc<ArpClients>)> = lcores
        .iter()
        .take(workers)
        .zip(&worker_counters)
        .zip(&worker_clients)
        .map(|((l, s), c)| (*l, s.clone(), c.clone()))
        .collect();
    let status_cell: Arc<ArcSwap<ops::status::Status>> =
        Arc::new(ArcSwap::from_pointee(ops::status::Status::default()));
    ops::register_telemetry(&status_cell);
    let (mut reloader, reload_client) =
        control::reloader::Reloader::new(path, signals.reload.clone());
    // Threads glbpd starts itself run on the control lcore's CPU (or
    // `[ops] cpu`), never on a worker's.
    let ops_cpu = ops::ops_cpu(cfg.ops.cpu);
    log::info!(
        "ops threads on CPU {}",
        ops_cpu.map_or("?".to_string(), |c| c.to_string())
    );
    reloader.pin(ops_cpu);
    ops::register_reload(reload_client);
    if let Err(e) = dpdk::telemetry::pdump_init() {
        log::info!("packet capture (dpdk-dumpcap) unavailable: {e}");
    }
    let status_file = Some(lock.dir().join(ops::STATUS_FILE));
    let _prometheus = match cfg.ops.prometheus {
        Some(addr) => Some(
            ops::serve_prometheus(addr, status_cell.clone(), stop.clone(), ops_cpu)
                .map_err(RunError)?,
        ),
        None => None,
    };
    let mut running = cfg.clone();
    let started = Instant::now();
    let mut next_status = started;
    let mut last_stats = Counts::default();
    let control_lcore = eal.main_lcore();
    // Logged once everything is up: `show`, reload and telemetry answer
    // from the first round of the loop below (which writes the status).
    log::info!(
        "glbpd running: {} port(s), {workers} worker(s), idle = {:?}",
        ports.len(),
        d.idle
    );
    let republish =
        (d.republish_hz > 0).then(|| Duration::from_secs_f64(1.0 / f64::from(d.republish_hz)));
    let mut next_republish = started;
    // Last, so that the threads started above do not inherit it: every
    // thread glbpd starts is started before this line.
    if cfg.control_plane.realtime {
        realtime_control_thread();
    }
    while !stop.load(Ordering::Relaxed) {
        let round = Instant::now();
        let mut busy = ctl.poll();
        if let Some(period) = republish {
            // Benchmark knob: swap in a fresh snapshot at a fixed rate.
            let now = Instant::now();
            if now >= next_republish {
                ctl.publish();
                next_republish = (next_republish + period).max(now);
                busy = true;
            }
        }
        control_counters.publish(&ctl.counts);
        if reloader.poll(&mut ctl, &mut running) {
            next_status = Instant::now();
        }
        if Instant::now() >= next_status {
            next_status = Instant::now() + STATUS_INTERVAL;
            let src = ops::status::Sources {
                prefix: &cfg.eal.file_prefix,
                started_ms: 0,
                control_lcore,
                workers: &workers_info,
                control_counts: &ctl.counts,
                last_reload: reloader.last(),
            };
            let st = ops::status::build(&ctl, &src);
            if let Some(f) = &status_file {
                ops::write_status(f, &st);
            }
            status_cell.store(Arc::new(st));
            if log::log_enabled!(log::Level::Debug) {
                let mut total = ctl.counts.clone();
                worker_counters.iter().for_each(|c| total.add(&c.read()));
                if total != last_stats {
                    log::debug!(
                        "stats: {}",
                        serde_json::to_string(&total).unwrap_or_default()
                    );
                    log::debug!(
                        "control: {}",
                        serde_json::to_string(&ctl.stats).unwrap_or_default()
                    );
                    last_stats = total;
                }
            }
        }
        let now_ms = ctl.now_ms();
        ctl.timing
            .control_round(now_ms, round.elapsed().as_micros() as u64);
        if !busy {
            std::thread::sleep(Duration::from_micros(500));
        }
    }
    log::info!("stopping after {:.1} s", started.elapsed().as_secs_f64());
    // Resign every group while the workers still run: the hand-off rings
    // may need them to put the resignation on the wire.
    ctl.glbp_shutdown();
    let deadline = Instant::now() + Duration::from_millis(200);
    while !ctl.tx_drained() && Instant::now() < deadline {
        ctl.flush();
        std::thread::sleep(Duration::from_micros(200));
    }

    worker_stop.store(true, Ordering::SeqCst);
    let mut failed = false;
    for h in handles {
        let lcore = h.lcore();
        let rc = h.wait();
        if rc != 0 {
            log::error!("worker on lcore {lcore} exited with {rc}");
            failed = true;
        }
    }
    let mut total = ctl.counts.clone();
    for c in &worker_counters {
        total.add(&c.read());
    }
    for p in &ports {
        if let Ok(s) = p.stats() {
            log::info!("port {}: {s:?}", p.name());
        }
    }
    // Release in dependency order: pending reload requests (answered as
    // "stopping"), control's queues, rings, ports (stop and close), the
    // snapshot's LPM table, the mempool, then EAL.
    drop(reloader);
    drop(ctl);
    drop(handoff);
    drop(exception);
    drop(glbp_ring);
    drop(ports);
    drop(state);
    drop(pool);
    drop(eal);
    drop(lock);
    if failed {
        return err("a worker lcore failed");
    }
    Ok(total)
}

/// Puts the calling thread (the control lcore) under SCHED_RR at the
/// lowest real-time priority: above every normal thread, below the
/// kernel's own, and throttled by the kernel's real-time budget.
fn realtime_control_thread() {
    use thread_priority::{
        set_thread_priority_and_policy, thread_native_id, RealtimeThreadSchedulePolicy,
        ThreadPriority, ThreadSchedulePolicy,
    };
    match set_thread_priority_and_policy(
        thread_native_id(),
        ThreadPriority::Min,
        ThreadSchedulePolicy::Realtime(RealtimeThreadSchedulePolicy::RoundRobin),
    ) {
        Ok(()) => log::info!("control lcore runs under SCHED_RR"),
        Err(e) => log::warn!(
            "control lcore stays under SCHED_OTHER ({e:?}): hellos may run late on a busy CPU; \
             run as root or with CAP_SYS_NICE, or set [control_plane] realtime = false"
        ),
    }
}

/// One worker's share of the `[control_plane]` rates, by punt class.
fn worker_policers(
    cp: &crate::config::ControlPlaneConfig,
    workers: usize,
) -> [dataplane::police::Policer; dataplane::counters::PuntClass::COUNT] {
    let n = workers.max(1) as u32;
    let hz = dpdk::tsc_hz();
    cp.rates()
        .map(|(_, r)| dataplane::police::Policer::new((r.pps / n).max(1), (r.burst / n).max(1), hz))
}

/// How often the status document is rebuilt.
const STATUS_INTERVAL: Duration = Duration::from_millis(250);

/// Sets the flag when dropped.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Makes `port` receive frames sent to the unicast `mac`: through the MAC
/// filter, or by promiscuous mode when the filter is full or missing.
pub(crate) fn receive_for(port: &Port, mac: MacAddr) {
    if let Err(e) = port.mac_add(mac.0) {
        if !port.promiscuous() {
            log::warn!(
                "port {}: cannot add {mac} to the MAC filter ({e}); enabling promiscuous mode",
                port.name()
            );
            if let Err(e) = port.set_promiscuous(true) {
                log::error!(
                    "port {}: cannot enable promiscuous mode ({e}); frames to {mac} will be lost",
                    port.name()
                );
            }
        }
    }
}

/// Joins 224.0.0.102 through the multicast filter, falling back to
/// all-multicast, then promiscuous mode.
fn join_glbp_multicast(port: &Port) {
    let mcast = [glbp::MCAST_MAC_V4.0, glbp::MCAST_MAC_V6.0];
    match port.set_mc_addr_list(&mcast) {
        Ok(()) => {}
        Err(e) => {
            log::info!(
                "port {}: no multicast filter ({e}); enabling all-multicast",
                port.name()
            );
            if let Err(e) = port.set_allmulticast(true) {
                log::warn!(
                    "port {}: no all-multicast ({e}); enabling promiscuous mode",
                    port.name()
                );
                if let Err(e) = port.set_promiscuous(true) {
                    log::warn!("port {}: cannot enable promiscuous mode either ({e}); GLBP hellos may be missed", port.name());
                }
            }
        }
    }
}

/// The IPv4 address of a port (for tests).
pub fn port_ip(cfg: &Config, name: &str) -> Option<Ipv4Addr> {
    cfg.ports
        .iter()
        .find(|p| p.name == name)
        .map(|p| p.address.addr)
}
