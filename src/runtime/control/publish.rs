//! Publishing the dataplane snapshot: built from the control lcore's
//! tables in one place, swapped in atomically, and the old ones freed here
//! once no worker holds them any more.

use std::sync::Arc;

use arc_swap::ArcSwap;

use super::neighbors::Neighbors;
use super::neighbors6::Neighbors6;
use super::{Control, ManagedPort};
use crate::dpdk::Lpm;
use crate::runtime::dataplane::state::{DataplaneState, NextHop, PortView, V6Routes};

/// Swaps dataplane snapshots in and frees the old ones only once no worker
/// holds them any more (on this lcore, never on a worker).
pub struct Publisher {
    cell: Arc<ArcSwap<DataplaneState>>,
    graveyard: Vec<Arc<DataplaneState>>,
    generation: u64,
}

impl Publisher {
    pub fn new(cell: Arc<ArcSwap<DataplaneState>>) -> Publisher {
        let generation = cell.load().generation;
        Publisher {
            cell,
            graveyard: Vec::new(),
            generation,
        }
    }

    /// The generation the next snapshot should carry.
    pub fn next_generation(&self) -> u64 {
        self.generation + 1
    }

    /// Publishes `st` atomically. Workers pick it up on their next round.
    pub fn publish(&mut self, st: DataplaneState) {
        self.generation = st.generation;
        let old = self.cell.swap(Arc::new(st));
        self.graveyard.push(old);
        self.reap();
    }

    /// Frees the snapshots nobody reads any more. `ArcSwap::swap` pays the
    /// readers' debts, so the strong count of an old snapshot counts every
    /// worker still holding it.
    pub fn reap(&mut self) {
        self.graveyard.retain(|s| Arc::strong_count(s) > 1);
    }
}

/// The dataplane snapshot of the control lcore's tables: the one place a
/// `DataplaneState` is built.
pub(super) fn snapshot(
    ports: &[ManagedPort],
    (neighbors, neighbors6): (&Neighbors, &Neighbors6),
    link_up: &[bool],
    (routes, next_hops): (&Arc<Lpm>, &[NextHop]),
    v6: &V6Routes,
    generation: u64,
) -> DataplaneState {
    let ports = ports
        .iter()
        .enumerate()
        .map(|(i, p)| PortView {
            name: p.name.clone(),
            mac: p.mac,
            addr: p.addr,
            vmacs: p.glbp.vmacs.clone(),
            neighbors: neighbors.resolved(i as u16),
            neighbors6: neighbors6.resolved(i as u16),
            avg: p.glbp.avg.clone(),
            silent: p.glbp.silent.clone(),
            link_up: link_up.get(i).copied().unwrap_or(true),
            revalidate: p.glbp.revalidate.clone(),
            link_local: p.link_local,
            address6: p.address6.iter().map(|n| n.addr).collect(),
            groups6: p.glbp.groups6.clone(),
        })
        .collect();
    DataplaneState {
        generation,
        ports,
        routes: routes.clone(),
        next_hops: next_hops.to_vec(),
        v6: v6.clone(),
    }
}

impl Control {
    /// Builds and publishes a snapshot from the current tables.
    pub fn publish(&mut self) {
        self.published_neighbors = self.neighbors.version();
        self.published_resolutions = self.neighbors.resolutions();
        self.published_neighbors6 = self.neighbors6.version();
        let st = snapshot(
            &self.ports,
            (&self.neighbors, &self.neighbors6),
            &self.link_up,
            (&self.routes, &self.next_hops),
            &self.routes6,
            self.publisher.next_generation(),
        );
        self.publisher.publish(st);
        self.stats.publications += 1;
    }

    /// The cell the workers read their snapshot from.
    pub fn snapshot_cell(&self) -> Arc<ArcSwap<DataplaneState>> {
        self.publisher.cell.clone()
    }
}
