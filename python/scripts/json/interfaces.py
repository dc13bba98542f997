# The seed's `interface` module example: the interface names as JSON. Python 3 syntax; sent as
# application/json (the seed said HTML: a name holding markup would then render as a page).
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

ntop.sendHTTPHeader(12) # 12 = JSON
ntop.sendString(json.dumps(ifnames, sort_keys=True, indent=4))
