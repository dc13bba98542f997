//! Nothing panics on any input: arbitrary bytes through the decoder on every link type, and
//! arbitrary bytes as a capture file.

use proptest::prelude::*;
use wirewatch_probe::LinkType;
use wirewatch_probe::capture::file::FileReader;
use wirewatch_probe::decode::{Decoded, MAX_LAYERS, decode};
use wirewatch_probe::interface::{Interface, Limits};

const LINKS: [u16; 17] = [0, 1, 9, 12, 14, 50, 101, 104, 105, 108, 113, 127, 192, 228, 229, 239, 276];

proptest! {
    #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

    #[test]
    fn decoder_never_panics(link in prop::sample::select(&LINKS[..]), data in prop::collection::vec(any::<u8>(), 0..256)) {
        let mut d = Decoded::default();
        decode(LinkType(link), &data, &mut d);
        prop_assert!(d.n_eth <= MAX_LAYERS && d.n_ip <= MAX_LAYERS);
    }

    /// Frames that start with a valid Ethernet + IPv4 header but carry random bytes after it
    /// reach the tunnel parsers (GRE, UDP ports of VXLAN/Geneve/GTP/Teredo) far more often.
    #[test]
    fn tunnel_parsers_never_panic(proto in prop::sample::select(&[4u8, 41, 47, 17, 6, 137][..]), port in prop::sample::select(&[4789u16, 6081, 2152, 3544, 53][..]), tail in prop::collection::vec(any::<u8>(), 0..200)) {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x00, 0x45, 0, 0, 0, 0, 0, 0, 0, 64, proto, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2]);
        if proto == 17 {
            f.extend_from_slice(&port.to_be_bytes());
            f.extend_from_slice(&port.to_be_bytes());
            f.extend_from_slice(&[0, 0, 0, 0]);
        }
        f.extend_from_slice(&tail);
        let mut d = Decoded::default();
        decode(LinkType::ETHERNET, &f, &mut d);
        prop_assert!(d.n_ip >= 1);
        let mut i = Interface::new("t".into(), LinkType::ETHERNET, Limits::default());
        i.process(1, f.len() as u64, &f, &mut wirewatch_probe::interface::Prepared::default());
        prop_assert_eq!(i.stats.packets, 1);
    }

    #[test]
    fn file_reader_never_panics(data in prop::collection::vec(any::<u8>(), 0..512), pcapng in any::<bool>()) {
        let mut bytes = if pcapng {
            vec![0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 28, 0, 0, 0]
        } else {
            vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0]
        };
        bytes.extend_from_slice(&data);
        if let Ok(mut r) = FileReader::new("prop".into(), &bytes[..]) {
            let mut n = 0;
            while let Ok(Some(_)) = r.next_frame() {
                n += 1;
                prop_assert!(n < 1000);
            }
        }
    }
}
