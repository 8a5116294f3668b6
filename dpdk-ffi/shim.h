/* Hand-written shims for what bindgen cannot reach: C thread-locals, macros
 * and a few constants. Everything else static inline goes through bindgen's
 * wrap_static_fns. */
#ifndef GLBPD_DPDK_SHIM_H
#define GLBPD_DPDK_SHIM_H
#include <stdint.h>

struct rte_mbuf;

/* rte_errno is a per-lcore (thread-local) variable. */
int glbpd_rte_errno(void);
/* rte_lcore_id() reads a thread-local. */
unsigned glbpd_rte_lcore_id(void);
/* rte_pktmbuf_mtod(m, void *). */
void *glbpd_pktmbuf_mtod(struct rte_mbuf *m);
/* rte_pktmbuf_data_len / pkt_len accessors kept here so the Rust side never
 * depends on the mbuf bitfield layout. */
uint16_t glbpd_pktmbuf_data_len(const struct rte_mbuf *m);
uint32_t glbpd_pktmbuf_pkt_len(const struct rte_mbuf *m);
/* Sets data_len and pkt_len of a single-segment mbuf. */
void glbpd_pktmbuf_set_len(struct rte_mbuf *m, uint16_t len);
/* RTE_VERSION as a string, e.g. "DPDK 22.11.11". */
const char *glbpd_rte_version(void);
/* RTE_MAX_LCORE, RTE_MAX_ETHPORTS. */
unsigned glbpd_rte_max_lcore(void);
unsigned glbpd_rte_max_ethports(void);
/* RTE_MBUF_DEFAULT_BUF_SIZE */
uint16_t glbpd_mbuf_default_buf_size(void);
/* glbpd's punt stamp: a 64-bit mbuf dynamic field ("glbpd_punt_stamp")
 * that a worker sets when it hands a frame to the control lcore.
 * Registration returns the field's offset, or -1 (rte_errno set). The
 * accessors take that offset (RTE_MBUF_DYNFIELD is a macro). */
int glbpd_punt_stamp_register(void);
void glbpd_punt_stamp_set(struct rte_mbuf *m, int offset, uint64_t v);
uint64_t glbpd_punt_stamp_get(const struct rte_mbuf *m, int offset);



/* Flag values defined with RTE_BIT64(), which bindgen cannot evaluate. */
extern const uint64_t GLBPD_ETH_RSS_IP;
extern const uint64_t GLBPD_ETH_RSS_UDP;
extern const uint64_t GLBPD_ETH_RSS_TCP;
extern const uint64_t GLBPD_ETH_TX_OFFLOAD_IPV4_CKSUM;
extern const uint64_t GLBPD_ETH_TX_OFFLOAD_MBUF_FAST_FREE;
extern const uint64_t GLBPD_ETH_RX_OFFLOAD_IPV4_CKSUM;
extern const uint64_t GLBPD_ETH_RX_OFFLOAD_VLAN_STRIP;
extern const uint64_t GLBPD_ETH_TX_OFFLOAD_VLAN_INSERT;
#endif
