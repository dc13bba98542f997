# ntop on-the-go: may this client version talk to us? ?type=iphone&version=1.2 -> {"allowed": 0|1}
import json

import ntop
import wirewatch

MIN_VERSION = (1, 0)

p = wirewatch.params()


def parse(v):
    try:
        return tuple(int(x) for x in v.split("."))
    except ValueError:
        return None


v = parse(p.get("version", ""))
allowed = int(p.get("type", "") == "iphone" and v is not None and v >= MIN_VERSION)
ntop.sendHTTPHeader(12)
ntop.sendString(json.dumps({"allowed": allowed}))
