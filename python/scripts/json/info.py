# The seed's `ntop` module example (ntop's json/iphone hostinfo.py): version, OS, uptime.
import json
import ntop

rsp = {}

rsp['version'] = ntop.version();
rsp['os'] = ntop.os();
rsp['uptime'] = ntop.uptime();

ntop.sendHTTPHeader(1) # 1 = HTTP
ntop.sendString(json.dumps(rsp, sort_keys=False, indent=4))
