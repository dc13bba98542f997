// Binaries (and test binaries) of this package load libpython: record its directory as an
// rpath, or a pyenv/venv Python's site-packages vanish behind the system libpython.
fn main() {
    pyo3_build_config::add_libpython_rpath_link_args();
}
