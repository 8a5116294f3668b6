#!/usr/bin/python3
"""Writes config/sample-lan.pcap: traffic a LAN would send to glbpd.

Used by config/virtual.toml, which replays it forever with net_pcap
(infinite_rx=1). Regenerate with: /usr/bin/python3 config/make-sample-pcap.py
"""
import os
from scapy.all import ARP, IP, UDP, Ether, wrpcap

ROUTER = "02:00:00:00:00:01"   # lan0's MAC in virtual.toml
frames = []
for h in range(1, 33):
    host_mac = "02:00:00:01:00:%02x" % h
    host_ip = "10.0.0.%d" % (100 + h)
    # Each host sends UDP to an upstream server through the router ...
    for s in range(4):
        frames.append(Ether(src=host_mac, dst=ROUTER) /
                      IP(src=host_ip, dst="198.51.100.%d" % (10 + s), ttl=64) /
                      UDP(sport=40000 + h, dport=5000 + s) / (b"\x00" * 18))
    # ... and asks for the router's address once.
    frames.append(Ether(src=host_mac, dst="ff:ff:ff:ff:ff:ff") /
                  ARP(op=1, hwsrc=host_mac, psrc=host_ip, pdst="10.0.0.2"))
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sample-lan.pcap")
wrpcap(out, frames)
print("wrote %d frames to %s" % (len(frames), out))
