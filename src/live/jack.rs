//! Hearing that the JACK server shut down, which midir does not ask about: its clients just stop
//! being called, sends still "succeed", and the port list (read from shared memory) still shows
//! every port. A client of our own registers `jack_on_shutdown`, which libjack calls from its own
//! thread when the server goes away or throws the client out.

use std::ffi::{CString, c_void};
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};

use jack_sys::{
    JackNoStartServer, jack_activate, jack_client_close, jack_client_open, jack_client_t,
    jack_on_shutdown,
};

/// A JACK client that only listens for the server's shutdown.
pub struct ServerWatch {
    client: *mut jack_client_t,
    /// Leaked on purpose: libjack may call the callback until the client is closed, and a client
    /// of a dead server is never closed (see [`Drop`]). One flag per jam.
    gone: &'static AtomicBool,
}

// Safety: the client pointer is only used by the owner (to close it); libjack's own thread only
// touches the flag, an atomic.
unsafe impl Send for ServerWatch {}

/// Sets the flag; `Release` pairs with the `Acquire` load in [`ServerWatch::is_gone`].
unsafe extern "C" fn on_shutdown(arg: *mut c_void) {
    // Safety: `arg` is the leaked `&'static AtomicBool` given to `jack_on_shutdown`.
    let gone = unsafe { &*(arg as *const AtomicBool) };
    gone.store(true, Ordering::Release);
}

impl ServerWatch {
    /// Opens the client (never starting a server); `None` when no server answers.
    pub fn open(name: &str) -> Option<ServerWatch> {
        let name = CString::new(name).ok()?;
        let gone: &'static AtomicBool = Box::leak(Box::new(AtomicBool::new(false)));
        // Safety: plain libjack calls on a client we own; the callback's argument outlives it.
        unsafe {
            let client = jack_client_open(name.as_ptr(), JackNoStartServer, ptr::null_mut());
            if client.is_null() {
                return None;
            }
            jack_on_shutdown(
                client,
                Some(on_shutdown),
                gone as *const AtomicBool as *mut c_void,
            );
            if jack_activate(client) != 0 {
                jack_client_close(client);
                return None;
            }
            Some(ServerWatch { client, gone })
        }
    }

    /// Whether the server has shut down.
    pub fn is_gone(&self) -> bool {
        self.gone.load(Ordering::Acquire)
    }
}

impl Drop for ServerWatch {
    fn drop(&mut self) {
        // Closing a client of a dead server would talk to nobody, and may wait for it.
        if !self.is_gone() {
            // Safety: the client is open and ours; nothing uses it after this.
            unsafe { jack_client_close(self.client) };
        }
    }
}
