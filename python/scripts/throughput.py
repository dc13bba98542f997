# Throughput per interface (ntop's interface.throughputStats) and the hosts moving the most
# bytes right now (host.sendThpt/receiveThpt "actual"), refreshed every 120 s.
# ?device=N limits the page to one interface; ?top=N sets the number of hosts (default 10).
import heapq
import html

import interface
import ntop
import wirewatch


def rate(v, unit):
    for k, p in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if v >= k:
            return "%.2f %s%s/s" % (v / k, p, unit)
    return "%.1f %s/s" % (v, unit)


p = wirewatch.params()
try:
    top = max(1, min(100, int(p.get("top", "10"))))
    only = int(p["device"]) if "device" in p else None
except ValueError:
    raise ValueError("device and top must be integers")

ntop.printHTMLHeader("Throughput", 1, 1)
n = interface.numInterfaces()
if n == 0:
    ntop.printFlagedWarning("No interface yet: no probe has reported.")
for i in range(n):
    if only is not None and i != only:
        continue
    s = interface.throughputStats(i)
    ntop.sendString("<h2>%s</h2>\n" % html.escape(interface.humanName(i)))
    ntop.sendString(
        "<table class=\"ifthpt\"><tr><th></th><th>Actual</th><th>Last minute</th><th>Last 5 minutes</th><th>Peak</th></tr>\n"
    )
    for label, key, unit in (("Packets", "Pkts", "pkt"), ("Bytes", "Bytes", "B")):
        ntop.sendString(
            "<tr><th>%s</th><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n"
            % (label, rate(s["actual" + key], unit), rate(s["lastMin" + key], unit),
               rate(s["lastFiveMins" + key], unit), rate(s["peak" + key], unit))
        )
    ntop.sendString("</table>\n")
    busiest = heapq.nlargest(
        top, wirewatch.hosts(device=i), key=lambda h: h.thpt_sent["actual"] + h.thpt_rcvd["actual"]
    )
    ntop.sendString(
        "<h3>Top %d hosts now</h3><table class=\"tophosts\"><tr><th>Host</th><th>Sent now</th><th>Received now</th>"
        "<th>Sent peak</th><th>Received peak</th><th>Sent average</th><th>Received average</th></tr>\n" % top
    )
    for h in busiest:
        ntop.sendString(
            "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n"
            % (html.escape(h.name), rate(h.thpt_sent["actual"], "B"), rate(h.thpt_rcvd["actual"], "B"),
               rate(h.thpt_sent["peak"], "B"), rate(h.thpt_rcvd["peak"], "B"),
               rate(h.thpt_sent["average"], "B"), rate(h.thpt_rcvd["average"], "B"))
        )
    ntop.sendString("</table>\n")
ntop.printHTMLFooter()
