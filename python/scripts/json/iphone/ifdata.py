# ntop on-the-go: one interface's figures by topic. ?if=N&topic=interface|protocols|throughput|security
# -> [{"data": ..., "metadata": {"type": groupedtable|barchart|piechart, "title", "unit",
#      "mode": counter|gauge, "total"}}]
import json

import interface
import ntop
import wirewatch

p = wirewatch.params()
try:
    i = int(p.get("if", "0"))
except ValueError:
    raise ValueError("if must be an interface number (see iflist.py)")
topic = p.get("topic", "interface")
if not 0 <= i < interface.numInterfaces():
    raise IndexError("no interface %d (see iflist.py)" % i)


def block(kind, title, unit, mode, data, total=None):
    return {"data": data, "metadata": {"type": kind, "title": title, "unit": unit, "mode": mode,
                                       "total": total if total is not None else sum(v for v in data.values() if isinstance(v, (int, float)))}}


if topic == "interface":
    pk, by, t = interface.pktsStats(i), interface.bytesStats(i), interface.time(i)
    out = [
        block("groupedtable", "Packets", "pkts", "counter",
              {k: pk[k] for k in ("total", "ethernet", "broadcast", "multicast", "ip", "pcapDrops")}, pk["total"]),
        block("groupedtable", "Traffic", "bytes", "counter", {"total": by["total"], "ipv4": by["ipv4"], "ipv6": by["ipv6"]}, by["total"]),
        block("groupedtable", "Hosts", "hosts", "gauge", {"hosts": interface.numHosts(i)}),
        block("groupedtable", "Time", "s", "gauge", t, 0),
    ]
elif topic == "protocols":
    by = interface.bytesStats(i)
    parts = {k: by[k] for k in ("tcp", "udp", "icmp", "icmp6", "otherIp", "arp_rarp", "stp", "ipsec", "netbios", "gre", "other") if by[k]}
    out = [block("piechart", "Protocols", "bytes", "counter", parts, by["total"])]
elif topic == "throughput":
    s = interface.throughputStats(i)
    out = [
        block("barchart", "Throughput (packets)", "pkts/s", "gauge",
              {k: s[k] for k in ("actualPkts", "lastMinPkts", "lastFiveMinsPkts", "peakPkts")}, s["peakPkts"]),
        block("barchart", "Throughput (bytes)", "bytes/s", "gauge",
              {k: s[k] for k in ("actualBytes", "lastMinBytes", "lastFiveMinsBytes", "peakBytes")}, s["peakBytes"]),
    ]
elif topic == "security":
    out = [block("groupedtable", "TCP flags", "pkts", "counter", interface.securityPkts(i))]
else:
    raise ValueError("topic %r: use interface, protocols, throughput or security" % topic)

ntop.sendHTTPHeader(12)
ntop.sendString(json.dumps(out))
