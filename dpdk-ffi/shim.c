#include "wrapper.h"

int glbpd_rte_errno(void) { return rte_errno; }
unsigned glbpd_rte_lcore_id(void) { return rte_lcore_id(); }
void *glbpd_pktmbuf_mtod(struct rte_mbuf *m) { return rte_pktmbuf_mtod(m, void *); }
uint16_t glbpd_pktmbuf_data_len(const struct rte_mbuf *m) { return rte_pktmbuf_data_len(m); }
uint32_t glbpd_pktmbuf_pkt_len(const struct rte_mbuf *m) { return rte_pktmbuf_pkt_len(m); }
void glbpd_pktmbuf_set_len(struct rte_mbuf *m, uint16_t len) { m->data_len = len; m->pkt_len = len; }
const char *glbpd_rte_version(void) { return rte_version(); }
unsigned glbpd_rte_max_lcore(void) { return RTE_MAX_LCORE; }
unsigned glbpd_rte_max_ethports(void) { return RTE_MAX_ETHPORTS; }
uint16_t glbpd_mbuf_default_buf_size(void) { return RTE_MBUF_DEFAULT_BUF_SIZE; }

int glbpd_punt_stamp_register(void) {
    static const struct rte_mbuf_dynfield desc = {
        .name = "glbpd_punt_stamp",
        .size = sizeof(uint64_t),
        .align = __alignof__(uint64_t),
    };
    return rte_mbuf_dynfield_register(&desc);
}
void glbpd_punt_stamp_set(struct rte_mbuf *m, int offset, uint64_t v) {
    *RTE_MBUF_DYNFIELD(m, offset, uint64_t *) = v;
}
uint64_t glbpd_punt_stamp_get(const struct rte_mbuf *m, int offset) {
    return *RTE_MBUF_DYNFIELD(m, offset, const uint64_t *);
}

const uint64_t GLBPD_ETH_RSS_IP = RTE_ETH_RSS_IP;
const uint64_t GLBPD_ETH_RSS_UDP = RTE_ETH_RSS_UDP;
const uint64_t GLBPD_ETH_RSS_TCP = RTE_ETH_RSS_TCP;
const uint64_t GLBPD_ETH_TX_OFFLOAD_IPV4_CKSUM = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
const uint64_t GLBPD_ETH_TX_OFFLOAD_MBUF_FAST_FREE = RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE;
const uint64_t GLBPD_ETH_RX_OFFLOAD_IPV4_CKSUM = RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
const uint64_t GLBPD_ETH_RX_OFFLOAD_VLAN_STRIP = RTE_ETH_RX_OFFLOAD_VLAN_STRIP;
const uint64_t GLBPD_ETH_TX_OFFLOAD_VLAN_INSERT = RTE_ETH_TX_OFFLOAD_VLAN_INSERT;
