# The seed's `host` module example: every host's throughput dicts, pretty-printed.
# The dicts are HTML-escaped into the page.
import html, ntop, host, pprint

ntop.printHTMLHeader("Welcome to ntop+Python", 1, 1);

while ntop.getNextHost(0):
    print(html.escape(pprint.pformat(host.sendThpt()), quote=False))
    print(html.escape(pprint.pformat(host.receiveThpt()), quote=False))
