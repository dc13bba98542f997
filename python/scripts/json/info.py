# The seed's `ntop` module example (ntop's json/iphone hostinfo.py): version, OS, uptime;
# sent as application/json (the seed's code 1 said HTML).
import json
import ntop

rsp = {}

rsp['version'] = ntop.version();
rsp['os'] = ntop.os();
rsp['uptime'] = ntop.uptime();

ntop.sendHTTPHeader(12) # 12 = JSON
ntop.sendString(json.dumps(rsp, sort_keys=False, indent=4))
