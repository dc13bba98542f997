# The seed's `host` module example: every host's throughput dicts, pretty-printed.
import ntop, host, pprint

ntop.printHTMLHeader("Welcome to ntop+Python", 1, 1);

while ntop.getNextHost(0):
    pprint.pprint(host.sendThpt())
    pprint.pprint(host.receiveThpt())
