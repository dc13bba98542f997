//! A DNS server on loopback for the reverse-DNS tests: UDP, PTR answers from a table, NXDOMAIN
//! for every other name, and a log of the names asked. Messages are parsed and written by
//! hickory-proto; the answers' labels are raw bytes, so a test can serve names that a resolver
//! must refuse (markup, spaces).

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::PTR;
use hickory_proto::rr::{Name, RData, Record};

/// Starts the server; `answers` maps a reverse name (`1.0.168.192.in-addr.arpa`, lower case, no
/// trailing dot) to the labels of its PTR target. Every name asked is appended to `log`.
pub fn start_dns(answers: HashMap<String, Vec<Vec<u8>>>, log: Arc<Mutex<Vec<String>>>) -> SocketAddr {
    let sock = UdpSocket::bind("127.0.0.1:0").expect("dns socket");
    let addr = sock.local_addr().expect("addr");
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok((n, peer)) = sock.recv_from(&mut buf) {
            let Ok(q) = Message::from_vec(&buf[..n]) else { continue };
            let mut r = Message::response(q.metadata.id, q.metadata.op_code);
            r.metadata.recursion_desired = q.metadata.recursion_desired;
            r.metadata.recursion_available = true;
            for query in &q.queries {
                r.add_query(query.clone());
                let name = query.name().to_ascii().trim_end_matches('.').to_lowercase();
                if let Ok(mut l) = log.lock() {
                    l.push(name.clone());
                }
                if let Some(labels) = answers.get(&name)
                    && let Ok(target) = Name::from_labels(labels.iter().map(|l| l.as_slice()))
                {
                    r.add_answer(Record::from_rdata(query.name().clone(), 3600, RData::PTR(PTR(target))));
                }
            }
            if r.answers.is_empty() {
                r.metadata.response_code = ResponseCode::NXDomain;
            }
            if let Ok(bytes) = r.to_vec() {
                let _ = sock.send_to(&bytes, peer);
            }
        }
    });
    addr
}

/// The labels of a dotted name, for [`start_dns`]'s table.
pub fn labels(name: &str) -> Vec<Vec<u8>> {
    name.split('.').map(|l| l.as_bytes().to_vec()).collect()
}
