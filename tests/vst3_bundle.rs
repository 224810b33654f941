//! The VST3 bundle's layout and entry points on Linux. It is only opened, never instantiated:
//! the CLAP tests exercise the shared plugin code through a real host.
//!
//! Needs `target/bundled/cantus.vst3`: `cargo xtask test` builds it before running the tests.
#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

mod common;

use std::ffi::c_void;

#[test]
fn vst3_bundle_has_the_linux_layout_and_exports_the_factory() {
    let library_path = common::bundled("cantus.vst3").join("Contents/x86_64-linux/cantus.so");
    assert!(
        library_path.is_file(),
        "{} is missing",
        library_path.display()
    );

    // SAFETY: our own plugin library; loading it runs no plugin code beyond static setup.
    let library = unsafe { libloading::Library::new(&library_path) }
        .unwrap_or_else(|e| panic!("cannot dlopen {}: {e}", library_path.display()));
    // SAFETY: the symbols are only looked up, never called.
    unsafe {
        type Factory = unsafe extern "system" fn() -> *mut c_void;
        library
            .get::<Factory>(b"GetPluginFactory")
            .expect("GetPluginFactory is not exported");
        // Linux VST3 hosts call these around the factory.
        library
            .get::<unsafe extern "C" fn(*mut c_void) -> bool>(b"ModuleEntry")
            .expect("ModuleEntry");
        library
            .get::<unsafe extern "C" fn() -> bool>(b"ModuleExit")
            .expect("ModuleExit");
    }
}
