# The seed's "Simple ntop/Python Script": every host of interface 0 in a table.
# Converted from Python 2 to Python 3 syntax (and the slide's wrapped lines joined); every
# field is HTML-escaped (a reverse-DNS name is chosen by whoever owns the reverse zone).
from html import escape
import ntop;
import host;
import cgi, cgitb
cgitb.enable();
form = cgi.FieldStorage();
ntop.printHTMLHeader("Welcome to ntop+Python ["+ntop.getPreference("ntop.devices")
+"]", 1, 0);
ntop.sendString("<center><table border>\n");
ntop.sendString("<tr><th>MAC Address</th><th>IP Address</th><th>Name</th><th># Sessions</th><th># Contacted Peers</th><th>Fingerprint</th><th>Serial</th></tr>\n");
while ntop.getNextHost(0):
    ntop.sendString("<tr><td align=right>"+escape(host.ethAddress())+"</td>"
        + "<td align=right>"+escape(host.ipAddress())+"</td>"+ "<td align=right>"+escape(host.hostResolvedName())+"</td>"
        + "<td align=center>"+escape(host.numHostSessions())+"</td>"+ "<td align=center>"+escape(host.totContactedSentPeers())+"</td>"
        + "<td align=right>"+escape(host.fingerprint())+"</td>"+ "<td align=center>"+escape(host.serial())+"</td>"+ "</tr>\n");
ntop.sendString("</table></center>\n");
ntop.printHTMLFooter();
