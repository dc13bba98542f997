"""wirewatch engine bootstrap: run once when the interpreter starts.

Makes the process-wide parts of Python per script run, so that concurrent scripts do not see
each other: sys.stdout (print goes to the run's page), sys.stdin (the request body, for the cgi
module), sys.argv (an action's arguments), os.environ (the run's CGI variables over an allow-list of the process environment:
not the controller's secrets such as DATABASE_URL or WIREWATCH_ADMIN_PASSWORD; a script is trusted
code in the controller's process and could still read /proc/self/environ). Each worker thread
has one run at a time; threads a script starts itself print to the controller's log.
"""

import collections.abc
import io
import os
import sys
import threading
import urllib.parse
import warnings

import _wirewatch


class ScriptTimeout(BaseException):
    """Raised in a script that ran past the engine's time limit (a BaseException, so that
    `except Exception` does not swallow it)."""


_local = threading.local()


def _active():
    return getattr(_local, "active", False)


class _Stdout(io.TextIOBase):
    def writable(self):
        return True

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError("write() argument must be str, not " + type(s).__name__)
        if _active():
            _wirewatch.write(s)
        else:
            sys.__stderr__.write(s)
        return len(s)

    def flush(self):
        pass

    @property
    def encoding(self):
        return "utf-8"


class _Stdin(io.TextIOBase):
    def readable(self):
        return True

    @property
    def buffer(self):
        b = getattr(_local, "stdin", None)
        return b if b is not None else io.BytesIO()

    def read(self, n=-1):
        return self.buffer.read(n).decode("utf-8", "replace")

    def readline(self, n=-1):
        return self.buffer.readline(n).decode("utf-8", "replace")

    @property
    def encoding(self):
        return "utf-8"


class _Environ(collections.abc.MutableMapping):
    """os.environ seen through the running script's CGI variables; a script's changes stay in
    its run."""

    def __init__(self, base):
        self._base = base

    def _run(self):
        return getattr(_local, "environ", None)

    def __getitem__(self, k):
        r = self._run()
        if r is not None and k in r:
            return r[k]
        return self._base[k]

    def __setitem__(self, k, v):
        r = self._run()
        if r is not None:
            r[k] = v
        else:
            self._base[k] = v

    def __delitem__(self, k):
        r = self._run()
        if r is not None:
            if k in r:
                del r[k]
                return
            raise KeyError(k)
        del self._base[k]

    def __iter__(self):
        keys = dict.fromkeys(self._base)
        r = self._run()
        if r:
            keys.update(dict.fromkeys(r))
        return iter(keys)

    def __len__(self):
        return sum(1 for _ in self)

    def copy(self):
        return dict(self)

    def __repr__(self):
        return "environ(%r)" % dict(self)


class _Argv(collections.abc.MutableSequence):
    """sys.argv seen through the running script's own arguments (an alarm action's
    `["NAME.py", "-p", PARAM, "-t", TEXT]`, as ntop ran its action scripts; a page's: a copy of
    the process's); a script's changes stay in its run. Concurrent runs each see their own."""

    def __init__(self, base):
        self._base = base

    def _list(self):
        r = getattr(_local, "argv", None)
        return r if r is not None else self._base

    def __getitem__(self, i):
        return self._list()[i]

    def __setitem__(self, i, v):
        self._list()[i] = v

    def __delitem__(self, i):
        del self._list()[i]

    def __len__(self):
        return len(self._list())

    def insert(self, i, v):
        self._list().insert(i, v)

    def __eq__(self, other):
        return list(self._list()) == (list(other) if isinstance(other, (list, _Argv)) else other)

    def __repr__(self):
        return repr(self._list())


# What scripts see of the process environment: locale, time zone, search path, home. The
# controller's own settings (DATABASE_URL, WIREWATCH_*: the admin password, the database) stay
# out of every script's view (a CGI "print the environment" page would show them otherwise).
_ALLOWED = ("PATH", "LANG", "LANGUAGE", "TZ", "HOME", "TMPDIR", "PYTHONIOENCODING")


def _allowed(k):
    k = k.decode("latin-1") if isinstance(k, bytes) else k
    return k in _ALLOWED or k.startswith("LC_")


_original_environ = os.environ
_safe = {k: v for k, v in _original_environ.items() if _allowed(k)}
os.environ = _Environ(_safe)
# The other copies of the start-up environment Python keeps: emptied of everything else
# (plain dicts; the process's real environment, which the controller reads, is not touched).
os.environb = {k: v for k, v in os.environb.items() if _allowed(k)}
try:
    import posix

    for _k in [k for k in posix.environ if not _allowed(k)]:
        del posix.environ[_k]
except ImportError:
    pass
for _k in [k for k in _original_environ._data if not _allowed(k)]:
    del _original_environ._data[_k]
sys.stdout = _Stdout()
sys.stdin = _Stdin()
sys.argv = _Argv(list(getattr(sys, "argv", None) or [""]))

# ntop's scripts use the cgi module (deprecated in 3.11, gone in 3.13: the legacy-cgi package
# brings it back). FieldStorage's default environ was bound at import to the process
# environment: point it at the per-run view.
warnings.filterwarnings("ignore", message=".*'cgi' is deprecated.*", category=DeprecationWarning)
warnings.filterwarnings("ignore", message=".*'cgitb' is deprecated.*", category=DeprecationWarning)
try:
    import cgi

    _d = cgi.FieldStorage.__init__.__defaults__
    cgi.FieldStorage.__init__.__defaults__ = tuple(
        os.environ if x is _original_environ else x for x in _d
    )
except ImportError:
    pass


def _params(query, content_type, body):
    """The plain dict of parameters: the query string, then the fields of a urlencoded POST
    body (the last value of a repeated name wins)."""
    out = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
    if content_type.split(";")[0].strip().lower() == "application/x-www-form-urlencoded" and body:
        out.update(urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return out


def _begin(environ, body, argv=None):
    _local.environ = environ
    _local.stdin = io.BytesIO(body)
    # A copy for every run: a page that edits sys.argv leaves the next run's as it was.
    _local.argv = list(argv) if argv is not None else list(sys.argv._base)
    _local.active = True


def _end():
    _local.active = False
    _local.environ = None
    _local.stdin = None
    _local.argv = None
