# The seed's "Simple ntop/Python Script": every host of interface 0 in a table.
# Converted from Python 2 to Python 3 syntax only (and the slide's wrapped lines joined).
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
    ntop.sendString("<tr><td align=right>"+host.ethAddress()+"</td>"
        + "<td align=right>"+host.ipAddress()+"</td>"+ "<td align=right>"+host.hostResolvedName()+"</td>"
        + "<td align=center>"+host.numHostSessions()+"</td>"+ "<td align=center>"+host.totContactedSentPeers()+"</td>"
        + "<td align=right>"+host.fingerprint()+"</td>"+ "<td align=center>"+host.serial()+"</td>"+ "</tr>\n");
ntop.sendString("</table></center>\n");
ntop.printHTMLFooter();
