# ntop on-the-go: the interface names; a name's position is the `if` of ifdata/iftophosts.
import json

import interface
import ntop

ntop.sendHTTPHeader(12)
ntop.sendString(json.dumps([interface.name(i) for i in range(interface.numInterfaces())]))
