# The seed's "hello world" (ntop's python/hello_world.py), Python 3.
import ntop

ntop.printHTMLHeader("Welcome to ntop+Python ["+ntop.getPreference("ntop.devices")
+"]", 1, 0);

ntop.sendString("Hello World\n");

ntop.printHTMLFooter();
