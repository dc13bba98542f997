# ntop on-the-go: top hosts of one interface. ?if=N&max=10&direction=0 (sent) | 1 (received)
# -> updowntables by peak, average and actual throughput, bytes and packets; each host with
# its country and ntop's host-type bitmask.
import heapq
import json

import interface
import ntop
import wirewatch

p = wirewatch.params()
try:
    i = int(p.get("if", "0"))
    top = max(1, min(100, int(p.get("max", "10"))))
    direction = int(p.get("direction", "0"))
except ValueError:
    raise ValueError("if, max and direction must be integers")
if direction not in (0, 1):
    raise ValueError("direction is 0 (sent) or 1 (received)")
if not 0 <= i < interface.numInterfaces():
    raise IndexError("no interface %d (see iflist.py)" % i)

# ntop's host-type bits (P2P and the mail/DHCP groups as in the iPhone client).
BITS = (
    (2, ("p2p",)), (4, ("voip_client", "voip_gateway")), (8, ("printer",)), (16, ("directory_host",)),
    (32, ("workstation",)), (64, ("http_host",)), (128, ("ftp_host",)), (256, ("server",)),
    (512, ("smtp_host", "pop_host", "imap_host")), (1024, ("dhcp_server", "dhcp_client")),
)


def host_type(h):
    roles = set(h.roles)
    return sum(bit for bit, names in BITS if roles.intersection(names))


side = "sent" if direction == 0 else "rcvd"
hosts = list(wirewatch.hosts(device=i))
tables = []
for title, unit, key in (
    ("Peak throughput", "bytes/s", lambda h: getattr(h, "thpt_" + side)["peak"]),
    ("Average throughput", "bytes/s", lambda h: getattr(h, "thpt_" + side)["average"]),
    ("Actual throughput", "bytes/s", lambda h: getattr(h, "thpt_" + side)["actual"]),
    ("Traffic", "bytes", lambda h: getattr(h, "bytes_" + side)),
    ("Packets", "pkts", lambda h: getattr(h, "pkts_" + side)),
):
    rows = []
    for h in heapq.nlargest(top, hosts, key=key):
        g = h.geo or {}
        rows.append({"host": h.name, "ip": h.ip, "value": key(h), "country": g.get("country_name", ""),
                     "countryCode": g.get("country_code", ""), "type": host_type(h)})
    tables.append({"data": rows, "metadata": {"type": "updowntable", "title": title, "unit": unit,
                                              "direction": direction}})

ntop.sendHTTPHeader(12)
ntop.sendString(json.dumps(tables))
