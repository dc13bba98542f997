//! Fuzz the frame decoder and the tables behind it: first two bytes choose the link type.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wirewatch_probe::LinkType;
use wirewatch_probe::interface::{Interface, Limits, Prepared};

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let link = LinkType(u16::from_le_bytes([data[0], data[1]]) % 300);
    let mut iface = Interface::new("fuzz".into(), link, Limits::default());
    let mut p = Prepared::default();
    iface.process(1, data.len() as u64, &data[2..], &mut p);
    iface.finish();
});
