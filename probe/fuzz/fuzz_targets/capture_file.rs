//! Fuzz the pcap/pcapng reader with whole files.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wirewatch_probe::capture::file::FileReader;

fuzz_target!(|data: &[u8]| {
    if let Ok(mut r) = FileReader::new("fuzz".into(), data) {
        while let Ok(Some(_)) = r.next_frame() {}
    }
});
