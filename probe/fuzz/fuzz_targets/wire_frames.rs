//! The probe↔controller codec on arbitrary bytes: never panics, never allocates past the
//! frame limit, and whatever decodes re-encodes to a frame that decodes to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wirewatch_wire::{ControllerMessage, Decoder, ProbeMessage, decode, encode};

const MAX: usize = 1 << 16;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = decode::<ProbeMessage>(data, MAX) {
        let again = encode(&m).expect("a decoded message encodes");
        assert_eq!(decode::<ProbeMessage>(&again, MAX).expect("and decodes again"), m);
    }
    if let Ok(m) = decode::<ControllerMessage>(data, MAX) {
        let again = encode(&m).expect("a decoded message encodes");
        assert_eq!(decode::<ControllerMessage>(&again, MAX).expect("and decodes again"), m);
    }
    // The same bytes as a stream, in two pieces.
    let mut d = Decoder::new(MAX);
    let (a, b) = data.split_at(data.len() / 2);
    if d.push(a).is_ok() && d.push(b).is_ok() {
        while let Ok(Some(_)) = d.next_message::<ProbeMessage>() {}
    }
});
