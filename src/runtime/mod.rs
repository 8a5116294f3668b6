//! The runtime: starts EAL from the configuration, brings up the ports,
//! launches one poll-mode worker per worker lcore and runs the control loop
//! on the main lcore until asked to stop.

pub mod control;
pub mod dataplane;
pub mod instance;
pub mod ops;

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;

use crossbeam::queue::ArrayQueue;

use crate::config::{lcores, Config, IpNet};
use crate::dpdk::{self, Eal, EthDev, Lpm, MbufRing, Mempool, PortConf};
use crate::wire::{glbp, MacAddr};
use control::neighbors::Neighbors;
use control::{Control, ControlParts, ManagedPort};
use dataplane::counters::{ArpClients, Counts, Shared};
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

/// The LPM table and next hops of `cfg`: connected port networks and
/// static routes. Used at start and by a reload that changes routes.
pub(crate) fn build_routes(cfg: &Config) -> Result<(Lpm, Vec<dataplane::state::NextHop>), String> {
    let port_nets: Vec<_> = cfg
        .interfaces()
        .iter()
        .enumerate()
        .map(|(i, p)| (p.address, i as u16))
        .collect();
    let statics: Vec<_> = cfg
        .routes
        .iter()
        .filter_map(|r| match (r.prefix, r.via) {
            (IpNet::V4(p), IpAddr::V4(v)) => Some((p, v, None)),
            _ => None,
        })
        .collect();
    let (entries, next_hops) = dataplane::state::route_entries(&port_nets, &statics);
    let mut lpm = Lpm::new(&lpm_name(), (entries.len() as u32 + 16).max(256), 256, -1)
        .map_err(|e| e.to_string())?;
    for (net, nh) in &entries {
        lpm.add(net.addr, net.len, *nh)
            .map_err(|e| format!("route {net}: {e}"))?;
    }
    Ok((lpm, next_hops))
}

/// The IPv6 routes of `cfg`: the `address6` subnets of the interfaces and
/// the IPv6 static routes, in an `rte_lpm6` table.
pub(crate) fn build_routes6(cfg: &Config) -> Result<dataplane::state::V6Routes, String> {
    let port_nets: Vec<_> = cfg
        .interfaces()
        .iter()
        .enumerate()
        .flat_map(|(i, p)| p.address6.iter().map(move |a| (*a, i as u16)))
        .collect();
    let statics: Vec<_> = cfg
        .routes
        .iter()
        .filter_map(|r| match (r.prefix, r.via) {
            // A link-local gateway on the interface the route names.
            (IpNet::V6(p), IpAddr::V6(v)) => {
                let port = r.port.as_deref().and_then(|n| cfg.interface(n));
                Some((p, v, port.map(|(i, _)| i as u16)))
            }
            _ => None,
        })
        .collect();
    let (entries, next_hops) = dataplane::state::route_entries(&port_nets, &statics);
    let mut lpm = dpdk::Lpm6::new(&lpm_name(), (entries.len() as u32 + 16).max(256), 1024, -1)
        .map_err(|e| e.to_string())?;
    for (net, nh) in &entries {
        lpm.add(net.addr, net.len, *nh)
            .map_err(|e| format!("route {net}: {e}"))?;
    }
    Ok(dataplane::state::V6Routes {
        routes: Arc::new(lpm),
        next_hops,
    })
}

/// Runs glbpd until `signals.stop` is set: start (EAL, ports, control,
/// ops), launch the workers, run the control loop, shut down. `path` is
/// re-read on `signals.reload` and on the `/glbp/reload` telemetry
/// command. `lock` is the prefix's instance lock: held until EAL is gone,
/// then dropped, which removes the runtime folder. Returns the final
/// counters.
pub fn run(
    cfg: &Config,
    path: &Path,
    signals: Signals,
    lock: instance::InstanceLock,
) -> Result<Counts, RunError> {
    let eal = start_eal(cfg, &lock)?;
    let mut node = Node::start(cfg, path, &signals, &eal, &lock)?;
    node.launch(cfg)?;
    node.control_loop(cfg, &signals);
    let total = node.shutdown();
    // Teardown: the node (its fields in order), then EAL, then the lock.
    drop(node);
    drop(eal);
    drop(lock);
    total
}

/// Starts EAL from the configuration.
fn start_eal(cfg: &Config, lock: &instance::InstanceLock) -> Result<Eal, RunError> {
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
    let lcores = eal.worker_lcores().len();
    if lcores < workers {
        return err(format!(
            "dataplane.workers = {workers} needs {workers} worker lcores but EAL has {lcores}; \
             give EAL more lcores (eal.lcores = \"0-{workers}\")"
        ));
    }
    Ok(eal)
}

/// How many queues of a port glbpd uses, as its driver allows.
struct QueuePlan {
    id: u16,
    rx: u16,
    tx: u16,
}

/// Everything a running instance owns besides EAL and its lock. The
/// fields are dropped in declaration order, which is the teardown order:
/// pending reload requests (answered "stopping"), the workers (stopped and
/// waited for), the control lcore's state (its queues and the snapshots,
/// with the LPM table), the rings, the ports (stopped and closed), then
/// the mempool their buffers come from.
struct Node<'eal> {
    reloader: control::reloader::Reloader,
    workers: Workers<'eal>,
    ctl: Control,
    links: Arc<dataplane::state::Links>,
    handoff: Vec<Option<Arc<MbufRing>>>,
    exception: Arc<MbufRing>,
    glbp_ring: Arc<MbufRing>,
    ports: Vec<EthDev>,
    /// Held, not read: the buffers of everything above come from it.
    _pool: Arc<Mempool>,
    // Plain values and shared counters.
    eal: &'eal Eal,
    plan: Vec<QueuePlan>,
    resolve: Arc<ArrayQueue<(u16, IpAddr)>>,
    control_counters: Arc<Shared>,
    status_cell: Arc<ArcSwap<ops::status::Status>>,
    status_file: std::path::PathBuf,
    /// Requests for the neighbour tables (`show neighbors`), answered with
    /// the number of entries written to `neighbors_file`.
    neighbor_requests:
        crossbeam::channel::Receiver<crossbeam::channel::Sender<Result<usize, String>>>,
    neighbors_file: std::path::PathBuf,
    _prometheus: Option<std::thread::JoinHandle<()>>,
    clock: (u64, u64),
    started: Instant,
}

/// The worker lcores. Dropping stops them and waits for each (a
/// `LaunchHandle` waits when dropped).
struct Workers<'eal> {
    stop: Arc<AtomicBool>,
    handles: Vec<dpdk::LaunchHandle<'eal>>,
    counters: Vec<Arc<Shared>>,
    clients: Vec<Arc<ArpClients>>,
    lcores: Vec<u32>,
}

impl Drop for Workers<'_> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

impl Workers<'_> {
    /// Stops the workers and waits for them; false when one failed.
    fn join(&mut self) -> bool {
        self.stop.store(true, Ordering::SeqCst);
        let mut ok = true;
        for h in self.handles.drain(..) {
            let lcore = h.lcore();
            let rc = h.wait();
            if rc != 0 {
                log::error!("worker on lcore {lcore} exited with {rc}");
                ok = false;
            }
        }
        ok
    }
}

impl<'eal> Node<'eal> {
    /// Brings up the ports, their queues and the mempool, the rings, the
    /// control lcore's state (which builds the first snapshot) and the ops
    /// endpoints. No worker runs yet.
    fn start(
        cfg: &Config,
        path: &Path,
        signals: &Signals,
        eal: &'eal Eal,
        lock: &instance::InstanceLock,
    ) -> Result<Node<'eal>, RunError> {
        let workers = usize::from(cfg.dataplane.workers);
        let d = &cfg.dataplane;
        let plan = plan_queues(cfg, workers)?;
        // Workers stamp punted frames so the control lcore can time them;
        // the field is registered before the mempool its mbufs come from.
        if let Err(e) = dpdk::register_punt_stamp() {
            log::warn!("punt latency not measured: {e}");
        }
        let pool = Arc::new(Mempool::new(
            "glbpd_mbufs",
            mbufs_needed(cfg, &plan, workers),
            256,
            0,
            -1,
        )?);
        let ifaces = cfg.interfaces();
        let (ports, macs) = start_ports(cfg, &plan, &pool)?;
        let mut links = dataplane::state::Links::new(
            ports.len(),
            &ifaces
                .iter()
                .map(|i| (i.port as u16, i.vlan))
                .collect::<Vec<_>>(),
        );
        for (l, p) in links.ports.iter_mut().zip(&ports) {
            l.tx_vlan_offload = p.vlan_offloads().1;
        }
        let links = Arc::new(links);
        let exception = Arc::new(MbufRing::new("glbpd_exc", d.exception_ring, -1)?);
        let glbp_ring = Arc::new(MbufRing::new("glbpd_glbp", d.exception_ring, -1)?);
        let resolve = Arc::new(ArrayQueue::new(1024));
        // One hand-off ring per port where some lcore lacks a TX queue.
        let handoff: Vec<Option<Arc<MbufRing>>> = plan
            .iter()
            .enumerate()
            .map(|(i, q)| {
                if usize::from(q.tx) <= workers {
                    MbufRing::new(&format!("glbpd_tx{i}"), 1024, -1).map(|r| Some(Arc::new(r)))
                } else {
                    Ok(None)
                }
            })
            .collect::<Result<_, _>>()?;
        // The control lcore's own TX paths: the queue after the workers',
        // or the hand-off ring to worker 0.
        let mut ctl_tx: Vec<TxPath> = Vec::new();
        for (pi, (port, q)) in ports.iter().zip(&plan).enumerate() {
            if usize::from(q.tx) > workers {
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
        let mut neighbors6 = control::neighbors6::Neighbors6::default();
        for n in &cfg.neighbors {
            if let Some((pi, _)) = cfg.interface(&n.port) {
                match n.ip {
                    IpAddr::V4(ip) => neighbors.add_static(pi as u16, ip, n.mac),
                    IpAddr::V6(ip) => neighbors6.add_static(pi as u16, ip, n.mac),
                }
            }
        }
        let ctl_ports = ifaces
            .iter()
            .map(|i| {
                let (c, p) = (&cfg.ports[i.port], &ports[i.port]);
                let mac = match i.mac {
                    Some(mac) if mac != macs[i.port] => {
                        // A VLAN with a MAC of its own.
                        receive_for(p, mac);
                        mac
                    }
                    _ => macs[i.port],
                };
                if i.vlan != 0 {
                    log::info!(
                        "interface {} on {} VLAN {}: mac {mac}, {}",
                        i.name,
                        c.name,
                        i.vlan,
                        i.address
                    );
                }
                ManagedPort {
                    name: i.name.clone(),
                    dpdk_id: p.id(),
                    link: i.port,
                    vlan: i.vlan,
                    mac,
                    addr: i.address,
                    link_local: i.link_local.unwrap_or_else(|| mac.link_local()),
                    address6: i.address6.clone(),
                    ra: i.ra.clone(),
                    mtu: c.mtu,
                    port: p.clone(),
                    kernel_if: control::kernel_iface(&c.device),
                    glbp: Default::default(),
                }
            })
            .collect();
        let (routes, next_hops) = build_routes(cfg).map_err(RunError)?;
        // One millisecond clock for the control lcore (Instant) and the
        // workers (TSC), so that the client cache the workers stamp ages
        // the same way in `show glbp`.
        let epoch = Instant::now();
        let clock = (dpdk::tsc(), (dpdk::tsc_hz() / 1000).max(1));
        let mut ctl = Control::new(ControlParts {
            ports: ctl_ports,
            links: links.clone(),
            link_names: cfg.ports.iter().map(|p| p.name.clone()).collect(),
            pool: pool.clone(),
            exception: exception.clone(),
            glbp: glbp_ring.clone(),
            control_plane: cfg.control_plane.clone(),
            tx: ctl_tx,
            neighbors,
            neighbors6,
            resolve: resolve.clone(),
            routes: Arc::new(routes),
            next_hops,
            routes6: build_routes6(cfg).map_err(RunError)?,
            epoch,
        });
        ctl.glbp_configure(cfg).map_err(RunError)?;

        // Operations: status for `glbpd show`, telemetry and Prometheus.
        let status_cell = Arc::new(ArcSwap::from_pointee(ops::status::Status::default()));
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
        let (neighbors_asker, neighbor_requests) = ops::ask::asker(4);
        ops::register_neighbors(neighbors_asker);
        if let Err(e) = dpdk::telemetry::pdump_init() {
            log::info!("packet capture (dpdk-dumpcap) unavailable: {e}");
        }
        let prometheus = match cfg.ops.prometheus {
            Some(addr) => Some(
                ops::serve_prometheus(addr, status_cell.clone(), signals.stop.clone(), ops_cpu)
                    .map_err(RunError)?,
            ),
            None => None,
        };
        let n = ports.len();
        Ok(Node {
            reloader,
            workers: Workers {
                stop: Arc::new(AtomicBool::new(false)),
                handles: Vec::new(),
                counters: (0..workers).map(|_| Arc::new(Shared::new(n))).collect(),
                clients: (0..workers)
                    .map(|_| Arc::new(ArpClients::new(ifaces.len())))
                    .collect(),
                lcores: eal.worker_lcores().into_iter().take(workers).collect(),
            },
            ctl,
            links,
            handoff,
            exception,
            glbp_ring,
            ports,
            _pool: pool,
            eal,
            plan,
            resolve,
            control_counters: Arc::new(Shared::new(n)),
            status_cell,
            status_file: lock.dir().join(ops::STATUS_FILE),
            neighbor_requests,
            neighbors_file: lock.dir().join(ops::NEIGHBORS_FILE),
            _prometheus: prometheus,
            clock,
            started: Instant::now(),
        })
    }

    /// Launches one poll-mode worker per worker lcore, each with its RX
    /// queues, its TX paths and its share of the punt policers.
    fn launch(&mut self, cfg: &Config) -> Result<(), RunError> {
        let d = &cfg.dataplane;
        let workers = self.workers.lcores.len();
        let state = self.ctl.snapshot_cell();
        for (w, lcore) in self.workers.lcores.clone().into_iter().enumerate() {
            let mut rx = Vec::new();
            let mut tx = Vec::new();
            let mut handoff_in = Vec::new();
            for (pi, (port, q)) in self.ports.iter().zip(&self.plan).enumerate() {
                if w < usize::from(q.rx) {
                    rx.push((pi, port.rx_queue(w as u16)?));
                }
                if w < usize::from(q.tx) {
                    tx.push(TxPath::Queue(port.tx_queue(w as u16)?));
                } else {
                    tx.push(TxPath::Handoff(
                        self.handoff[pi]
                            .clone()
                            .expect("hand-off ring exists when queues are short"),
                    ));
                }
                if w == 0 {
                    if let Some(r) = &self.handoff[pi] {
                        handoff_in.push((pi, r.clone()));
                    }
                }
            }
            let worker = Worker {
                index: w,
                rx,
                links: self.links.clone(),
                tx,
                handoff_in,
                exception: self.exception.clone(),
                glbp: self.glbp_ring.clone(),
                policers: worker_policers(&cfg.control_plane, workers),
                resolve: self.resolve.clone(),
                state: state.clone(),
                counters: self.workers.counters[w].clone(),
                clients: self.workers.clients[w].clone(),
                stop: self.workers.stop.clone(),
                idle: d.idle,
                burst: usize::from(d.burst),
                clock: self.clock,
            };
            log::info!("worker {w} on lcore {lcore}");
            self.workers
                .handles
                .push(self.eal.launch(lcore, move || worker.run())?);
        }
        Ok(())
    }

    /// The control lcore's loop: GLBP, punted frames, neighbours and
    /// tracking (`Control::poll`), reloads, and the status document,
    /// until `signals.stop` is set.
    fn control_loop(&mut self, cfg: &Config, signals: &Signals) {
        let d = &cfg.dataplane;
        let workers_info: Vec<(u32, Arc<Shared>, Arc<ArpClients>)> = self
            .workers
            .lcores
            .iter()
            .zip(&self.workers.counters)
            .zip(&self.workers.clients)
            .map(|((l, s), c)| (*l, s.clone(), c.clone()))
            .collect();
        let mut running = cfg.clone();
        let mut next_status = self.started;
        let mut last_stats = Counts::default();
        let control_lcore = self.eal.main_lcore();
        // Logged once everything is up: `show`, reload and telemetry answer
        // from the first round of the loop below (which writes the status).
        log::info!(
            "glbpd running: {} port(s), {} worker(s), idle = {:?}",
            self.ports.len(),
            workers_info.len(),
            d.idle
        );
        let republish =
            (d.republish_hz > 0).then(|| Duration::from_secs_f64(1.0 / f64::from(d.republish_hz)));
        let mut next_republish = self.started;
        // Last, so that the threads started above do not inherit it: every
        // thread glbpd starts is started before this line.
        if cfg.control_plane.realtime {
            realtime_control_thread();
        }
        let ctl = &mut self.ctl;
        while !signals.stop.load(Ordering::Relaxed) {
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
            self.control_counters.publish(&ctl.counts);
            if self.reloader.poll(ctl, &mut running) {
                next_status = Instant::now();
            }
            if let Ok(reply) = self.neighbor_requests.try_recv() {
                // Whole tables (up to a quarter of a million entries):
                // on request only, never on a schedule.
                let tables = ops::status::neighbors(ctl);
                let n = tables.ipv4.len() + tables.ipv6.len();
                let written = ops::write_json(&self.neighbors_file, &tables)
                    .map(|()| n)
                    .map_err(|e| format!("{}: {e}", self.neighbors_file.display()));
                let _ = reply.send(written);
            }
            if Instant::now() >= next_status {
                let building = Instant::now();
                let src = ops::status::Sources {
                    prefix: &cfg.eal.file_prefix,
                    started_ms: 0,
                    control_lcore,
                    workers: &workers_info,
                    control_counts: &ctl.counts,
                    last_reload: self.reloader.last(),
                };
                let st = ops::status::build(ctl, &src);
                ops::write_status(&self.status_file, &st);
                self.status_cell.store(Arc::new(st));
                // At most ~4 % of the control lcore: a thousand groups
                // make a document that takes milliseconds to build.
                let took = building.elapsed();
                next_status = Instant::now() + STATUS_INTERVAL.max(took * 25);
                if log::log_enabled!(log::Level::Debug) {
                    let mut total = ctl.counts.clone();
                    self.workers
                        .counters
                        .iter()
                        .for_each(|c| total.add(&c.read()));
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
    }

    /// Resigns every group while the workers still run (the hand-off rings
    /// may need them to put the resignations on the wire), stops and waits
    /// for the workers, and returns the final counters.
    fn shutdown(&mut self) -> Result<Counts, RunError> {
        log::info!(
            "stopping after {:.1} s",
            self.started.elapsed().as_secs_f64()
        );
        self.ctl.glbp_shutdown();
        let deadline = Instant::now() + Duration::from_millis(200);
        while !self.ctl.tx_drained() && Instant::now() < deadline {
            self.ctl.flush();
            std::thread::sleep(Duration::from_micros(200));
        }
        let ok = self.workers.join();
        let mut total = self.ctl.counts.clone();
        for c in &self.workers.counters {
            total.add(&c.read());
        }
        for p in &self.ports {
            if let Ok(s) = p.stats() {
                log::info!("port {}: {s:?}", p.name());
            }
        }
        if !ok {
            return err("a worker lcore failed");
        }
        Ok(total)
    }
}

/// Queues per port: one RX queue per worker and one TX queue per worker
/// plus the control lcore, as far as each driver allows.
fn plan_queues(cfg: &Config, workers: usize) -> Result<Vec<QueuePlan>, RunError> {
    let mut plan = Vec::new();
    for p in &cfg.ports {
        let name = port_lookup_name(p);
        let id = EthDev::id_by_name(&name).map_err(|e| {
            RunError(format!(
                "port {}: device {name:?} was not probed by EAL: {e}",
                p.name
            ))
        })?;
        let info = EthDev::dev_info(id)?;
        let rx = (workers as u16).min(info.max_rx_queues).max(1);
        let tx = (workers as u16 + 1).min(info.max_tx_queues).max(1);
        if rx < workers as u16 {
            log::warn!("port {}: driver {} offers {rx} RX queues for {workers} workers; the others do not poll it", p.name, info.driver);
        }
        if tx <= workers as u16 {
            log::warn!(
                "port {}: driver {} offers {tx} TX queues for {workers} workers + control; the rest hand frames to the owner of queue 0 through a ring",
                p.name,
                info.driver
            );
        }
        plan.push(QueuePlan { id, rx, tx });
    }
    Ok(plan)
}

/// Mbufs for every descriptor of every queue, each lcore's bursts and
/// caches, and both exception rings: `dataplane.mbufs` or more.
fn mbufs_needed(cfg: &Config, plan: &[QueuePlan], workers: usize) -> u32 {
    let d = &cfg.dataplane;
    let per_port: u32 = plan
        .iter()
        .map(|q| u32::from(q.rx) * u32::from(d.rx_desc) + u32::from(q.tx) * u32::from(d.tx_desc))
        .sum();
    let needed =
        per_port + (workers as u32 + 1) * (512 + 2 * dpdk::MAX_BURST as u32) + 2 * d.exception_ring;
    if d.mbufs < needed {
        log::warn!(
            "dataplane.mbufs = {} is below the {needed} the queues can hold; using {needed}",
            d.mbufs
        );
        needed
    } else {
        d.mbufs
    }
}

/// Starts every port on `pool` with its planned queues, sets its MAC and
/// joins the GLBP multicast group: the ports and their MACs.
fn start_ports(
    cfg: &Config,
    plan: &[QueuePlan],
    pool: &Arc<Mempool>,
) -> Result<(Vec<EthDev>, Vec<MacAddr>), RunError> {
    let d = &cfg.dataplane;
    let mut ports = Vec::new();
    let mut macs = Vec::new();
    let ifaces = cfg.interfaces();
    for (pi, (p, q)) in cfg.ports.iter().zip(plan).enumerate() {
        let vlans = ifaces
            .iter()
            .filter(|i| i.port == pi && i.vlan != 0)
            .count();
        let conf = PortConf {
            rx_queues: q.rx,
            tx_queues: q.tx,
            rx_desc: d.rx_desc,
            tx_desc: d.tx_desc,
            rss: p.rss,
            mtu: p.mtu,
            rx_ip_cksum: true,
            vlan: vlans > 0,
        };
        let port = EthDev::start(q.id, &p.name, &conf, pool.clone())?;
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
        join_glbp_multicast(&port, &ipv6_groups(cfg, &ifaces, pi, mac));
        let by = |dev: bool| if dev { "by the device" } else { "in software" };
        let (strip, insert) = port.vlan_offloads();
        log::info!(
            "port {} ({}) up: id {}, mac {mac}, {}, {} rx / {} tx queues, IPv4 checksum {}{}",
            p.name,
            p.device,
            q.id,
            p.address
                .map_or_else(|| "no untagged address".to_string(), |a| a.to_string()),
            q.rx,
            q.tx,
            by(port.rx_ip_cksum_offload()),
            if vlans > 0 {
                format!(
                    ", {vlans} VLAN(s): tags stripped {}, inserted {}",
                    by(strip),
                    by(insert)
                )
            } else {
                String::new()
            }
        );
        macs.push(mac);
        ports.push(port);
    }
    Ok((ports, macs))
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

/// How often the status document is rebuilt (less often when building it
/// takes longer than 1/25 of this).
const STATUS_INTERVAL: Duration = Duration::from_millis(250);

/// Makes `port` receive frames sent to the unicast `mac`: through the MAC
/// filter, or by promiscuous mode when the filter is full or missing.
pub(crate) fn receive_for(port: &EthDev, mac: MacAddr) {
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

/// The IPv6 multicast groups an interface listens to, given its
/// link-local address, its global addresses and the virtual addresses of
/// its IPv6 groups: all routers (router solicitations), GLBP's ff02::66
/// when it has IPv6 groups, and the solicited-node group of every address.
pub(crate) fn ipv6_memberships(
    link_local: std::net::Ipv6Addr,
    address6: &[std::net::Ipv6Addr],
    vips: &[std::net::Ipv6Addr],
) -> Vec<std::net::Ipv6Addr> {
    use crate::wire::icmpv6::{solicited_node, ALL_ROUTERS};
    let mut groups = vec![ALL_ROUTERS];
    if !vips.is_empty() {
        groups.push(glbp::MCAST_V6);
    }
    let addrs = std::iter::once(&link_local).chain(address6).chain(vips);
    groups.extend(addrs.map(|a| solicited_node(*a)));
    groups.sort();
    groups.dedup();
    groups
}

/// The IPv6 multicast MACs port `pi` (MAC `mac`) must receive: those of
/// the [`ipv6_memberships`] of its interfaces.
fn ipv6_groups(
    cfg: &Config,
    ifaces: &[crate::config::Interface],
    pi: usize,
    mac: MacAddr,
) -> Vec<MacAddr> {
    let mut groups = Vec::new();
    for i in ifaces.iter().filter(|i| i.port == pi) {
        let link_local = i
            .link_local
            .unwrap_or_else(|| i.mac.unwrap_or(mac).link_local());
        let address6: Vec<_> = i.address6.iter().map(|a| a.addr).collect();
        let vips: Vec<_> = cfg
            .groups
            .iter()
            .filter(|g| g.port == i.name)
            .filter_map(|g| match g.glbp.vip {
                Some(std::net::IpAddr::V6(v)) => Some(v),
                _ => None,
            })
            .collect();
        groups.extend(ipv6_memberships(link_local, &address6, &vips));
    }
    multicast_macs(groups)
}

/// The Ethernet addresses of IPv6 multicast groups (for
/// [`join_glbp_multicast`], which lists each once).
pub(crate) fn multicast_macs(groups: impl IntoIterator<Item = std::net::Ipv6Addr>) -> Vec<MacAddr> {
    groups
        .into_iter()
        .map(crate::wire::icmpv6::multicast_mac)
        .collect()
}

/// Joins 224.0.0.102, ff02::66, ff02::1 and the IPv6 groups `v6` through
/// the multicast filter, falling back to all-multicast, then promiscuous
/// mode. All nodes (never reported in MLD) carries MLD queries, other
/// routers' advertisements and unsolicited neighbour advertisements.
pub(crate) fn join_glbp_multicast(port: &EthDev, v6: &[MacAddr]) {
    let all_nodes = crate::wire::icmpv6::multicast_mac(crate::wire::icmpv6::ALL_NODES);
    let mut mcast: Vec<[u8; 6]> = [glbp::MCAST_MAC_V4, glbp::MCAST_MAC_V6, all_nodes]
        .iter()
        .chain(v6)
        .map(|m| m.0)
        .collect();
    mcast.sort();
    mcast.dedup();
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
    cfg.interface(name).map(|(_, i)| i.address.addr)
}
