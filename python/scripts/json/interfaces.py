# The seed's `interface` module example: the interface names as JSON. Python 3 syntax.
import json
import ntop
import interface

ifnames = []

try:
    for i in range(interface.numInterfaces()):
        ifnames.append(interface.name(i))

except Exception as inst:
    print(type(inst))      # the exception instance
    print(inst.args)      # arguments stored in .args
    print(inst)           # __str__ allows args to printed directly

ntop.sendHTTPHeader(1) # 1 = HTML
ntop.sendString(json.dumps(ifnames, sort_keys=True, indent=4))
