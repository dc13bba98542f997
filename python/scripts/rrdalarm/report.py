# ntop's rrdAlarm report (python/rrdalarm/start.py's page, rrdAlarmStart.tmpl): "Check
# Thresholds Now" (a POST: the check runs and its report shows every threshold and file with
# the seed's columns ID, file, value, type, threshold, time, action, ALARM FIRED / OK, globs
# matching no file apart; the actions start and show as pending), the last checks, and the
# alarm events the user may see. Every value is escaped (jinja2 autoescape).
import datetime
import os

import jinja2

import wirewatch

req = wirewatch.request()
params = wirewatch.params()
every_site = req["sites"] is None
can_check = every_site and req["role"] in ("operator", "admin")
report, error = None, None

if req["method"] == "POST" and params.get("op") == "check":
    try:
        report = wirewatch.alarms.check()
    except (wirewatch.Forbidden, RuntimeError) as e:
        error = str(e)


def when(t):
    if t is None:
        return "-"
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


rows = []
if report:
    for r in report["rows"]:
        status = {"fired": "ALARM FIRED", "ok": "OK"}.get(r["outcome"], "ERROR: %s" % r.get("error"))
        rows.append({
            "id": r["threshold_id"], "file": r["file"],
            "value": "-" if r["value"] is None else r["value"], "type": r["type"],
            "threshold": r["threshold"], "time": when(r["time"]),
            "action": r["action"] if r["outcome"] == "fired" else "None", "status": status,
        })

env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(os.path.dirname(os.path.abspath(__file__))),
    autoescape=True,
)
print(env.get_template("report.html").render(
    report=report,
    rows=rows,
    error=error,
    can_check=can_check,
    runs=[dict(r, started=when(r["started_at"])) for r in wirewatch.alarms.runs(10)] if every_site else [],
    events=[dict(e, raised=when(e["raised_at"])) for e in wirewatch.alarms.events(limit=50)],
))
