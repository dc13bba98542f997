//! The crate's one FFI call, `PyThreadState_SetAsyncExc`: how the watchdog stops a script past
//! its time limit, and how a worker clears a stop that came after its script ended. The
//! workspace denies `unsafe_code`; this file alone allows it, for these two calls with the GIL
//! held. It must not grow: whatever pyo3 offers safely belongs elsewhere.
#![allow(unsafe_code)]

use pyo3::prelude::*;

/// Raises `exc` in the Python thread `ident` at its next bytecode (GIL held by the caller).
pub(crate) fn raise_in_thread(_py: Python<'_>, ident: u64, exc: &Bound<'_, PyAny>) {
    // SAFETY: the GIL is held (the `Python` token proves it); `exc` is a live exception
    // class; an unknown thread id only makes the call a no-op (returns 0).
    let n = unsafe { pyo3::ffi::PyThreadState_SetAsyncExc(ident as _, exc.as_ptr()) };
    if n > 1 {
        // More than one thread state matched: undo, as CPython's documentation requires.
        // SAFETY: as above; NULL clears the pending exception.
        unsafe { pyo3::ffi::PyThreadState_SetAsyncExc(ident as _, std::ptr::null_mut()) };
    }
}

/// Clears an exception the watchdog may have raised in this thread after its script ended.
pub(crate) fn clear_async_exc(_py: Python<'_>, ident: u64) {
    // SAFETY: the GIL is held (the token proves it); NULL clears any pending async exception.
    unsafe { pyo3::ffi::PyThreadState_SetAsyncExc(ident as _, std::ptr::null_mut()) };
}
