# ntop's rrdAlarm configurator (python/rrdalarm/config.py), for wirewatch: the thresholds as an
# editable table (add, change, remove rows), autocompletion of RRD paths (the archive's files)
# and of actions (those this controller can run), validation on the server as the API's (a
# wrong row is named and nothing is replaced: the table keeps what was typed), and "Check
# Thresholds Now" (report.py). Thresholds span every site: users of every site read them,
# operators and admins change them. Every value is escaped (jinja2 autoescape).
import os

import jinja2

import wirewatch

FIELDS = [
    ("id", "ID"), ("rrd_path", "RRD File Path"), ("type", "Type"), ("value", "Value"),
    ("repetitions", "Repetitions"), ("start", "Start Time"), ("end", "End Time"),
    ("action", "Action"), ("action_parameter", "Action Parameter"),
    ("rearm_secs", "Time Before Next (s)"),
]
KEYS = [k for k, _ in FIELDS]
NEW_ROW = {"id": "", "rrd_path": "", "type": "above", "value": "", "repetitions": "0",
           "start": "now-30m", "end": "now", "action": "None", "action_parameter": " ",
           "rearm_secs": "0"}

req = wirewatch.request()
params = wirewatch.params()
can_edit = req["role"] in ("operator", "admin")
message, error = None, None
rows = wirewatch.alarms.thresholds()

if req["method"] == "POST" and params.get("op") == "save":
    try:
        count = min(int(params.get("rows", "0")), 10001)
    except ValueError:
        count = 0
    posted = []
    for i in range(count):
        r = {k: params.get("r%d_%s" % (i, k), "") for k in KEYS}
        if params.get("r%d_delete" % i):
            continue
        # The empty row at the end adds nothing unless something was typed in it.
        if i == count - 1 and not r["id"].strip() and not r["rrd_path"].strip():
            continue
        posted.append(r)
    try:
        n, unchanged, dropped = wirewatch.alarms.replace(posted)
        message = "Saved %d thresholds (%d unchanged, %d re-arm states dropped)." % (n, unchanged, dropped)
        rows = wirewatch.alarms.thresholds()
    except (ValueError, wirewatch.Forbidden) as e:
        error = "Nothing saved: %s" % e
        rows = posted

env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(os.path.dirname(os.path.abspath(__file__))),
    autoescape=True,
)
print(env.get_template("config.html").render(
    fields=FIELDS,
    rows=[{k: r.get(k, "") for k in KEYS} for r in rows] + ([NEW_ROW] if can_edit else []),
    files=wirewatch.alarms.files("", 1000),
    actions=wirewatch.alarms.actions(),
    can_edit=can_edit,
    message=message,
    error=error,
))
