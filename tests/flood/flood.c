/* A LAN flooder for glbpd's hostile-input tests: sends frames aimed at a
 * router's own address from an AF_PACKET socket, in batches of sendmmsg,
 * at a target rate for a given time, with a new random sender MAC (and
 * host address) in every frame, as an attacker or a broken host would.
 *
 *   flood IFACE KIND DST_MAC DST_IP PPS SECONDS
 *   KIND: arp (requests for DST_IP, unicast to DST_MAC), icmp (echo requests),
 *         udp (to a closed port), mix (the three in turn)
 *
 * Prints "sent N frames in S s: R pps" and exits 0. Bounded in count and
 * time; sends only on the given interface (a veth of a test namespace).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define FRAME 64

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t next_rand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)rng;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static uint16_t csum(const uint8_t *b, size_t n) {
    uint32_t s = 0;
    for (size_t i = 0; i + 1 < n; i += 2) s += (b[i] << 8) | b[i + 1];
    if (n & 1) s += b[n - 1] << 8;
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

static int parse_mac(const char *s, uint8_t m[6]) {
    return sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &m[0], &m[1], &m[2], &m[3], &m[4],
                  &m[5]) == 6;
}

/* Builds one frame of `kind` (0 arp, 1 icmp, 2 udp) into f; returns its length. */
static size_t build(uint8_t *f, int kind, const uint8_t dst_mac[6], uint32_t dst_ip) {
    uint8_t src[6] = {0x02, 0xfa, 0, 0, 0, 0};
    uint32_t r = next_rand();
    memcpy(src + 2, &r, 4);
    /* A host address in the router's /24, never the router's own. */
    uint32_t host = (dst_ip & 0xffffff00u) | (2 + (r >> 24) % 250);
    if (host == dst_ip) host ^= 1;
    memset(f, 0, FRAME);
    memcpy(f + 6, src, 6);
    if (kind == 0) {
        /* Unicast to the router, as a host's ARP probe is: the bridge
         * delivers it to the router alone, so the sender's CPU goes into
         * rate rather than into copies for every port. */
        memcpy(f, dst_mac, 6);
        f[12] = 0x08, f[13] = 0x06;
        uint8_t *a = f + 14;
        a[1] = 1, a[2] = 0x08, a[4] = 6, a[5] = 4, a[7] = 1;
        memcpy(a + 8, src, 6);
        uint32_t h = htonl(host), d = htonl(dst_ip);
        memcpy(a + 14, &h, 4);
        memcpy(a + 24, &d, 4);
        return 60;
    }
    memcpy(f, dst_mac, 6);
    f[12] = 0x08, f[13] = 0x00;
    uint8_t *ip = f + 14;
    size_t l4 = kind == 1 ? 8 + 18 : 8 + 18;
    uint16_t tot = htons(20 + l4);
    ip[0] = 0x45;
    memcpy(ip + 2, &tot, 2);
    ip[8] = 64;
    ip[9] = kind == 1 ? 1 : 17;
    uint32_t h = htonl(host), d = htonl(dst_ip);
    memcpy(ip + 12, &h, 4);
    memcpy(ip + 16, &d, 4);
    uint16_t c = htons(csum(ip, 20));
    memcpy(ip + 10, &c, 2);
    uint8_t *p = ip + 20;
    if (kind == 1) {
        p[0] = 8;
        p[4] = r & 0xff, p[5] = (r >> 8) & 0xff;
        c = htons(csum(p, l4));
        memcpy(p + 2, &c, 2);
    } else {
        uint16_t sp = htons(40000 + r % 20000), dp = htons(33434 + (r >> 8) % 100);
        uint16_t ul = htons(l4);
        memcpy(p, &sp, 2);
        memcpy(p + 2, &dp, 2);
        memcpy(p + 4, &ul, 2);
    }
    return 14 + 20 + l4;
}

int main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: %s IFACE arp|icmp|udp|mix DST_MAC DST_IP PPS SECONDS\n", argv[0]);
        return 2;
    }
    int kind = !strcmp(argv[2], "arp") ? 0 : !strcmp(argv[2], "icmp") ? 1
             : !strcmp(argv[2], "udp") ? 2 : !strcmp(argv[2], "mix") ? 3 : -1;
    uint8_t dst_mac[6];
    struct in_addr dst;
    double pps = atof(argv[5]), secs = atof(argv[6]);
    if (kind < 0 || !parse_mac(argv[3], dst_mac) || !inet_aton(argv[4], &dst) || pps <= 0 ||
        secs <= 0 || secs > 600) {
        fprintf(stderr, "flood: bad arguments\n");
        return 2;
    }
    int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
    if (fd < 0) {
        perror("socket");
        return 1;
    }
    struct sockaddr_ll sll = {0};
    sll.sll_family = AF_PACKET;
    sll.sll_ifindex = if_nametoindex(argv[1]);
    sll.sll_protocol = htons(ETH_P_ALL);
    if (!sll.sll_ifindex || bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) {
        perror("bind");
        return 1;
    }
    int qdisc_bypass = 1;
    setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &qdisc_bypass, sizeof qdisc_bypass);
    static uint8_t frames[BATCH][FRAME];
    struct iovec iov[BATCH];
    struct mmsghdr msgs[BATCH];
    memset(msgs, 0, sizeof msgs);
    uint32_t dst_ip = ntohl(dst.s_addr);
    unsigned long long sent = 0, turn = 0;
    double start = now_s(), end = start + secs;
    for (;;) {
        double t = now_s();
        if (t >= end) break;
        /* Ahead of the target rate: wait a little. */
        if (sent > (t - start) * pps) {
            struct timespec ts = {0, 50000};
            nanosleep(&ts, NULL);
            continue;
        }
        for (int i = 0; i < BATCH; i++) {
            int k = kind == 3 ? (int)(turn++ % 3) : kind;
            iov[i].iov_base = frames[i];
            iov[i].iov_len = build(frames[i], k, dst_mac, dst_ip);
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        int n = sendmmsg(fd, msgs, BATCH, 0);
        if (n > 0) sent += n;
    }
    double took = now_s() - start;
    printf("sent %llu frames in %.2f s: %.0f pps\n", sent, took, sent / took);
    close(fd);
    return 0;
}
